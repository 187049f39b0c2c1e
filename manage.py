#!/usr/bin/env python
"""Django's command-line entry point for Infinity."""
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infinity.settings")
    from django.core.management import execute_from_command_line

    from infinity.environment import exit_on_bad_settings

    exit_on_bad_settings()  # a bad environment variable: its one line and exit 2, before any command
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
