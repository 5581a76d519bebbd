"""Running behind HTTPS: the documented settings make `check --deploy` clean, and every page carries a
Content Security Policy that refuses inline script, which the templates never need."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from config.settings import proxy_ssl_header

ROOT = Path(__file__).resolve().parent.parent
# The settings README.md documents for a production behind an HTTPS proxy.
DOCUMENTED = {
    "DEBUG": "0",
    "SECRET_KEY": "k3y-" + "x7Qz9" * 12,
    "ALLOWED_HOSTS": "hub.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
}


def _check_deploy(extra: dict) -> subprocess.CompletedProcess:
    # Only what a production shell would hold: not the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE, for one.
    env = {k: v for k, v in os.environ.items()
           if k not in DOCUMENTED and not k.startswith(("SECURE_", "DJANGO_"))}
    env.update(extra)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_the_documented_settings():
    result = _check_deploy(DOCUMENTED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_names_what_is_missing_without_them():
    result = _check_deploy({k: DOCUMENTED[k] for k in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")})
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # no HSTS
    assert "security.W008" in result.stderr + result.stdout  # no SSL redirect


def test_proxy_ssl_header_is_read_as_django_expects():
    assert proxy_ssl_header("HTTP_X_FORWARDED_PROTO,https") == ("HTTP_X_FORWARDED_PROTO", "https")
    assert proxy_ssl_header("") is None
    with pytest.raises(ImproperlyConfigured):
        proxy_ssl_header("HTTP_X_FORWARDED_PROTO")


@pytest.mark.django_db
def test_pages_carry_a_policy_without_inline_script(client):
    response = client.get("/login/")
    policy = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=3600,
                   SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_https_redirect_and_hsts_follow_the_proxy_header(client):
    plain = client.get("/login/")
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
    secure = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"] == "max-age=3600"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
INLINE_STYLE = re.compile(r"\sstyle\s*=|<style\b", re.I)


def test_templates_hold_no_inline_script_handler_or_style():
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for name, pattern in (("script", INLINE_SCRIPT), ("handler", INLINE_HANDLER), ("style", INLINE_STYLE)):
            found += [f"{path.relative_to(ROOT)}: inline {name}" for _ in pattern.findall(text)]
    assert found == []
