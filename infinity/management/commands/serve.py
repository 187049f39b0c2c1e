"""`manage.py serve`: what `make run` runs. The production server (uWSGI with
infinity/uwsgi.ini) on this machine, with a ready admin login.

Why not Django's runserver: it starts a thread per client connection, each with its
own persistent database connection, and the embedded PostgreSQL runs out of them
under a few dozen clients (500s). uWSGI serves with a fixed set of single-threaded
worker processes, one database connection each, and its HTTP router holds any number
of client connections while they wait for a worker. This process stays the parent:
it prints the banner once the server answers, forwards Ctrl-C / SIGTERM, and is the
one place where in-process background work runs (never in the forked workers).
"""

import ctypes
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from infinity import background

PASSWORD_FILE = "admin-password"
PR_SET_PDEATHSIG = 1
MAX_WORKERS = 8  # one database connection each; the embedded PostgreSQL allows 100
READY_SECONDS = 120
STOP_SECONDS = 30
# Requests that went wrong are logged (4xx, 5xx); uWSGI's startup lines only if it fails to start.
LOG_OPTIONS = ["--log-4xx", "--log-5xx", "--log-format", "%(method) %(uri) %(status) %(msecs)ms"]
# uWSGI's routine lines once it serves: a worker that loaded its app after the first one
# answered (lazy-apps), workers renewed after max-requests. Not passed on: they are not news.
ROUTINE = re.compile(r"WSGI app \d+ \(mountpoint=.*\) ready in |Respawned uWSGI worker |"
                     r"\.\.\.The work of process \d+ is done|worker \d+ killed successfully|"
                     r"spawned uWSGI worker \d+|announcing my loyalty|\*\*\* uWSGI is running")


def routine(line: str) -> bool:
    """Whether a line uWSGI prints while it serves is routine (kept out of the terminal)."""
    return ROUTINE.search(line) is not None


def default_workers() -> int:
    return max(2, min(MAX_WORKERS, 2 * (os.cpu_count() or 1)))


def _stop_with_parent() -> None:
    """In the uWSGI child before it starts: SIGTERM it if this process dies (even SIGKILLed),
    so no server is left holding the port (Linux; elsewhere Ctrl-C and SIGTERM still stop it)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (AttributeError, OSError):
        pass


def uwsgi_binary() -> str:
    beside = Path(sys.executable).parent / "uwsgi"  # the pyuwsgi wheel's, in this virtualenv
    found = str(beside) if beside.exists() else shutil.which("uwsgi")
    if not found:
        raise CommandError("uWSGI is not installed: .venv/bin/pip install -r requirements.txt")
    return found


class Command(BaseCommand):
    help = "Serve the API and admin with uWSGI (as in production); prints the admin URL and how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=os.environ.get("PORT", "8000"))  # argparse checks it
        parser.add_argument("--workers", type=int, default=default_workers(),
                            help=f"uWSGI worker processes (default: 2 per core, at most {MAX_WORKERS})")

    def handle(self, *args, host, port, workers, **options):
        login = self._login_hint()
        connections.close_all()  # this process keeps no database connection while it serves
        server = self._start_server(host, port, workers)
        self._stopping = False
        signal.signal(signal.SIGTERM, lambda *_: self._stop_requested(server))  # a supervisor's stop
        self._held, self._held_lock = [], threading.Lock()
        forward = threading.Thread(target=self._forward_log, args=(server,), daemon=True)
        forward.start()
        try:
            self._wait_until_ready(server, host, port)
            self.start_background_workers()
            base = f"http://{host}:{port}"
            self._say(f"\nInfinity {settings.VERSION} (uWSGI, {workers} workers; Ctrl-C stops it)\n"
                      f"  API:   {base}/api/public/data/{{model}}\n  Admin: {base}/admin/\n  {login}\n")
            server.wait()
        except KeyboardInterrupt:
            self._stopping = True  # Ctrl-C: the terminal sent SIGINT to uWSGI as well
        finally:
            self._stop(server)
            forward.join(timeout=5)
        if not self._stopping and server.returncode != 0:
            raise CommandError(f"uWSGI stopped with status {server.returncode}")

    def _stop_requested(self, server: subprocess.Popen) -> None:
        self._stopping = True
        server.terminate()

    def start_background_workers(self) -> None:
        """In-process background work (e.g. webhook deliveries without REDIS_URL) starts here:
        in this parent process, once, never in uWSGI's forked workers."""
        background.start_all()

    # --- the server -----------------------------------------------------------------

    def _start_server(self, host: str, port: int, workers: int) -> subprocess.Popen:
        command = [uwsgi_binary(), "--ini", str(settings.BASE_DIR / "infinity" / "uwsgi.ini"),
                   "--http", f"{host}:{port}", "--processes", str(workers), *LOG_OPTIONS]
        return subprocess.Popen(command, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1, preexec_fn=_stop_with_parent)

    def _forward_log(self, server: subprocess.Popen) -> None:
        """uWSGI's lines: kept back until it answers (shown only if it fails), then passed on."""
        for line in server.stdout:
            with self._held_lock:
                if self._held is None:
                    if not routine(line):
                        self._say(line)
                else:
                    self._held.append(line)

    def _wait_until_ready(self, server: subprocess.Popen, host: str, port: int) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://{host}:{port}/api/health", timeout=5):
                    pass
            except urllib.error.HTTPError:
                pass  # an answer all the same (503 "degraded": the database is not there yet)
            except OSError:  # not listening yet
                time.sleep(0.2)
                continue
            with self._held_lock:
                self._held = None  # uWSGI's startup lines: nothing went wrong, so nothing to show
            return
        self._stop(server)
        time.sleep(0.5)  # its last lines
        with self._held_lock:
            sys.stderr.write("".join(self._held or []))
        raise CommandError(f"uWSGI did not start (status {server.returncode}); its output is above")

    def _stop(self, server: subprocess.Popen) -> None:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    def _say(self, text: str) -> None:
        self.stdout.write(text, ending="")
        self.stdout.flush()

    # --- the admin login --------------------------------------------------------------

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
