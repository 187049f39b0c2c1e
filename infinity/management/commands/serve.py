"""`manage.py serve`: the development server behind `make run`, with a ready admin login."""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from infinity import background

PASSWORD_FILE = "admin-password"


class Command(BaseCommand):
    help = "Serve the API and admin (development); prints the admin URL and how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))

    def handle(self, *args, host, port, **options):
        base = f"http://{host}:{port}"
        self.stdout.write(f"\nInfinity {settings.VERSION}\n  API:   {base}/api/public/data/{{model}}\n"
                          f"  Admin: {base}/admin/\n  {self._login_hint()}\n")
        background.start_all()  # webhook delivery (and other apps' work) without a second command
        call_command("runserver", f"{host}:{port}", use_reloader=False, use_threading=True)

    def _login_hint(self) -> str:
        """Create an `admin` superuser with a random password on first run and say how to log in."""
        users = get_user_model().objects
        path = settings.VAR_DIR / PASSWORD_FILE
        usable = users.filter(is_superuser=True, is_active=True).exclude(password__startswith="!")
        if usable.exists():
            admin = usable.filter(username="admin").first()
            if admin and path.exists() and admin.check_password(path.read_text().strip()):
                return f"Login: admin / {path.read_text().strip()}  (kept in {path})"
            return "Login: your superuser (manage.py changepassword USERNAME to reset a password)"
        password = secrets.token_urlsafe(12)
        admin, _ = users.get_or_create(username="admin", defaults={"email": "admin@localhost"})
        admin.is_staff = admin.is_superuser = admin.is_active = True
        admin.set_password(password)
        admin.save()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password)
        return f"Login: admin / {password}  (created now; kept in {path})"
