"""The two booking invariants as PostgreSQL exclusion constraints (btree_gist).

They make overlapping confirmed bookings impossible whatever the interleaving of transactions. SQLite has
no equivalent; there the booking service checks inside an IMMEDIATE transaction, which serialises writers.
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """ALTER TABLE bookings_booking ADD CONSTRAINT booking_no_overlap_per_resource
       EXCLUDE USING gist (resource_id WITH =, tstzrange(start, "end", '[)') WITH &&)
       WHERE (status = 'confirmed')""",
    """ALTER TABLE bookings_booking ADD CONSTRAINT booking_member_one_desk_at_a_time
       EXCLUDE USING gist (member_id WITH =, tstzrange(start, "end", '[)') WITH &&)
       WHERE (status = 'confirmed' AND is_desk)""",
]
BACKWARD = [
    "ALTER TABLE bookings_booking DROP CONSTRAINT IF EXISTS booking_member_one_desk_at_a_time",
    "ALTER TABLE bookings_booking DROP CONSTRAINT IF EXISTS booking_no_overlap_per_resource",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("bookings", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False)]
