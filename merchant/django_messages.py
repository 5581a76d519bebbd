"""Django's own messages that its Simplified Chinese catalogue misses, marked here so that makemessages puts
them in ours (locale/zh_Hans) and the pages never mix English into Chinese.

Django 5.2 changed the msgid of MinimumLengthValidator's error ("%(min_length)d" became "%d"); its zh_Hans
catalogue still has only the old text, so a short password was refused in English on a Chinese page.
tests/test_views_team.py checks the message shows in Chinese; when Django's catalogue catches up this file
is harmless (our translation wins, with the same meaning).
"""
from django.utils.translation import ngettext


def _marked_for_makemessages(n: int) -> list[str]:
    return [
        ngettext("This password is too short. It must contain at least %d character.",
                 "This password is too short. It must contain at least %d characters.", n),
    ]
