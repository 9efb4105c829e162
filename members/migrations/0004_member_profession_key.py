import unicodedata

from django.db import migrations, models
from django.utils.text import slugify


def _key(name: str) -> str:
    # A frozen copy of members.models.skill_key: a migration must not change when the code does.
    stripped = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return slugify(stripped.casefold())[:80]


def fill_profession_keys(apps, schema_editor):
    Member = apps.get_model("members", "Member")
    for member in Member.objects.exclude(profession="").only("pk", "profession").iterator(chunk_size=500):
        Member.objects.filter(pk=member.pk).update(profession_key=_key(member.profession))


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0003_audit_log"),
    ]

    operations = [
        migrations.AddField(
            model_name="member",
            name="profession_key",
            field=models.CharField(blank=True, db_index=True, editable=False, max_length=80),
        ),
        migrations.RunPython(fill_profession_keys, migrations.RunPython.noop),
    ]
