"""Settings for the coworking application, read from the environment (see README, "Configuration").

Unset variables take the embedded defaults: SQLite in var/, the kombu filesystem broker, a file cache,
console e-mail. With DEBUG off, what production cannot do without (SECRET_KEY, ALLOWED_HOSTS, an e-mail
server) is a start-up error instead of a silent default.
"""

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from coworking.env import env_bool, env_int, env_list, env_str, private_scratch_dir

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off a secret key is required: set SECRET_KEY "
            "(or SECRET_KEY_FILE), for example to the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is not set. With DEBUG off, list the host names this site answers to, "
        "comma-separated, for example ALLOWED_HOSTS=coworking.example.org"
    )

SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
_site = urlsplit(SITE_URL)
if _site.scheme not in {"http", "https"} or not _site.netloc:
    raise ImproperlyConfigured(f"SITE_URL must be an absolute http(s) URL, not {SITE_URL!r}")
CSRF_TRUSTED_ORIGINS = [f"{_site.scheme}://{_site.netloc}", *env_list("CSRF_TRUSTED_ORIGINS")]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "django_htmx",
    "csp",
    "coworking",
    "spaces",
    "members",
    "billing",
    "bookings",
    "community",
]

MIDDLEWARE = [
    "coworking.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "members.middleware.AuthenticationMiddleware",  # Django's, keeping sessions of renamed backends
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "coworking.urls"
WSGI_APPLICATION = "coworking.wsgi.application"
AUTH_USER_MODEL = "members.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "coworking.context_processors.site",
            ],
        },
    },
]

# Database: SQLite in var/ unless DATABASE_URL names another (postgres://user@host:5432/name).
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL)
    if _db["ENGINE"] == "django.db.backends.postgresql":
        _db.setdefault("OPTIONS", {})
        _db["OPTIONS"].setdefault("connect_timeout", 5)
    elif _db["ENGINE"] != "django.db.backends.sqlite3":
        raise ImproperlyConfigured("DATABASE_URL must be a postgres:// or sqlite:// URL")
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "db.sqlite3"}
# Persistent connections on both engines: opening one (and, on SQLite, running the PRAGMAs below) costs
# more than most of our queries. Health checks make a connection that died between requests harmless.
_db["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)
_db["CONN_HEALTH_CHECKS"] = True
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so "check then write" inside
    # transaction.atomic() cannot interleave with another writer; WAL lets readers run meanwhile;
    # the busy timeout makes a second writer wait instead of failing with "database is locked".
    # Django's backend, with a finer wait for that lock at the start of a transaction (coworking.sqlite).
    _db["ENGINE"] = "coworking.sqlite"
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            "PRAGMA mmap_size=268435456;"
        ),
    }
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis serves as the Celery broker and the shared cache when REDIS_URL is set.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "coworking",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "coworking.cache.FileCache",
            # Shared memory when the machine has it (coworking.env.private_scratch_dir): every
            # booking and sign-in writes here, and a file write on disk costs ten times more.
            "LOCATION": env_str("CACHE_DIR") or str(private_scratch_dir(VAR_DIR, "cache")),
            "OPTIONS": {"MAX_ENTRIES": 10000},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's and allauth's backends, reading the signed-in user with SQL built once (members/auth.py).
AUTHENTICATION_BACKENDS = [
    "members.auth.ModelBackend",
    "members.auth.AccountBackend",
]

# Accounts (django-allauth): e-mail is the login; verification is mandatory in production.
ACCOUNT_ADAPTER = "members.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "optional" if DEBUG else "mandatory")
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Coworking] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = _site.scheme
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "10/h/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
}
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# E-mail: the console in development; an SMTP server in production.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if env_str("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 15
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Coworking <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if not DEBUG and EMAIL_BACKEND.endswith("console.EmailBackend") and not env_bool("ALLOW_CONSOLE_EMAIL"):
    raise ImproperlyConfigured(
        "No e-mail server is configured. With DEBUG off members must receive verification e-mails: "
        "set EMAIL_HOST (and EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD), or EMAIL_BACKEND."
    )

# Payments: without these the offline gateway is used (payments recorded by a manager). All three or
# none: a secret key without the webhook secret would charge cards and never hear back from Stripe.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
_stripe_keys = {
    "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
    "STRIPE_PUBLISHABLE_KEY": STRIPE_PUBLISHABLE_KEY,
    "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
}
if any(_stripe_keys.values()) and not all(_stripe_keys.values()):
    _missing = ", ".join(name for name, value in _stripe_keys.items() if not value)
    raise ImproperlyConfigured(
        f"Card payments need all three Stripe settings (or none, for offline payments): {_missing} "
        "is not set."
    )
STRIPE_ENABLED = all(_stripe_keys.values())
# For the test suite only: the address of its fake Stripe server. Empty means Stripe's own API.
STRIPE_API_BASE = env_str("STRIPE_API_BASE").rstrip("/")
STRIPE_MAX_NETWORK_RETRIES = env_int("STRIPE_MAX_NETWORK_RETRIES", 2)
# Where Checkout's hosted pages live: a form that posts to us and is redirected there needs it in the
# page's CSP form-action (browsers check the redirect's target too). Only the pages that lead there add it.
STRIPE_CHECKOUT_ORIGIN = env_str("STRIPE_CHECKOUT_ORIGIN", "https://checkout.stripe.com").rstrip("/")

# Celery: Redis when configured, otherwise the kombu filesystem transport so that `make run` runs the
# scheduled jobs with nothing but Python. Beat's schedule is static and in UTC (coworking/celery.py).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    _control_dir = VAR_DIR / "celery" / "control"  # broadcast (pidbox) exchanges; defaults to the cwd
    _queue_dir.mkdir(parents=True, exist_ok=True)
    _control_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(_control_dir),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Security: production defaults pass `manage.py check --deploy`.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", True) else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = not DEBUG
# Billing: renewals are issued this many days before the new period starts; an invoice is due this many
# days after its period starts; an unpaid pass is suspended this many days after its invoice's due date.
BILLING_RENEWAL_LEAD_DAYS = env_int("BILLING_RENEWAL_LEAD_DAYS", 1)
BILLING_PAYMENT_TERMS_DAYS = env_int("BILLING_PAYMENT_TERMS_DAYS", 0)
BILLING_GRACE_DAYS = env_int("BILLING_GRACE_DAYS", 10)

# The availability pages' cache (bookings.page_cache); off only to measure or debug the uncached page.
AVAILABILITY_CACHE = env_bool("AVAILABILITY_CACHE", True)

# Sessions are read on every signed-in request: from the cache (Redis in production), written through
# to the database so that a cache restart signs nobody out.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

# No inline script anywhere: scripts and styles come from our own origin only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "coworking.logging.JsonFormatter"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Our request log replaces Django's and runserver's own lines.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        "celery": {"level": LOG_LEVEL},
    },
}

# Product settings.
DEMO_PASSWORDS = DEBUG  # seed_demo gives demo accounts a password only in development
