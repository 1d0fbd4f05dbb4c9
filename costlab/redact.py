"""Credentials out of URLs and of any text that may quote one (errors, log lines, stored messages).

A URL given to costlab may carry a secret: a password in its userinfo
(`http://user:PW@host`), a token as the whole userinfo (`https://TOKEN@host`), or a token,
key or signature in its query (`?token=...`, presigned S3 `X-Amz-Signature=...`). Errors from
requests/urllib3/httpx quote the URL, or only its path and query (`url: /api/v1/query?token=...`),
so every boundary where costlab prints, logs or stores text passes it through `redact_text`:
the CLI's error line, `collection_runs.message`, the log handlers, the collectors' own errors.

Only the secret part is replaced; a URL without one comes back unchanged, character for
character, so messages stay useful for finding the wrong host or path.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import SplitResult, unquote_plus, urlsplit

MASK = "***"

# Query (and fragment: OAuth's implicit flow puts `access_token` there) parameter names whose
# values are credentials, compared case-insensitively after percent-decoding.
SECRET_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "key",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "private_token",
        "sig",  # Azure shared access signatures
        "signature",
        # pyarrow's S3 URI options (s3://bucket/prefix?access_key=...&secret_key=...)
        "access_key",
        "secret_key",
        "session_token",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
    }
)

# scheme://userinfo@ : the userinfo runs to the last '@' before the authority ends (urllib splits
# the netloc at its last '@' too), so a password with a raw '@' is still covered whole.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^\s/?#]*)@")
# name=value after '?', '&', ';' or '#', wherever it stands: errors often quote only the path and
# query of a request. The value ends at the next separator, whitespace or quote.
# The same with a password holding a raw '/', '?' or '#' (not valid, but typed: base64 passwords
# have '/'): `user:` and then, up to the first '@', text with such a character. A `host:port/...@`
# (digits up to the first '/') is a port and a path, not a password.
_BROKEN_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^\s/?#@:]*):(?P<password>[^\s@]*?)@"
)
_PARAM = re.compile(r"(?P<lead>[?&;#])(?P<name>[^=&;#?\s'\"]+)=(?P<value>[^&;#\s'\"]*)")


def _mask_userinfo(userinfo: str) -> str:
    """`user:pw` -> `user:***`; a lone name (often a token, `https://TOKEN@host`) -> `***`."""
    user, sep, _password = userinfo.partition(":")
    return f"{user}:{MASK}" if sep else MASK


def _mask_broken(match: re.Match[str]) -> str:
    password = match["password"]
    if re.fullmatch(r"\d*[/?#].*", password) or not re.search(r"[/?#]", password):
        return match[0]  # a port and a path, or an ordinary userinfo (handled by _USERINFO)
    return f"{match['scheme']}{match['user']}:{MASK}@"


def _mask_param(match: re.Match[str]) -> str:
    if unquote_plus(match["name"]).lower() not in SECRET_PARAMS or not match["value"]:
        return match[0]
    return f"{match['lead']}{match['name']}={MASK}"


def _mask_params(text: str) -> str:
    return _PARAM.sub(_mask_param, text)


def redact_url(url: str) -> str:
    """`url` with its userinfo password (or token) and secret query values replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced '[' in the host: not a URL, treat it as text
        return redact_text(url)
    if _BROKEN_USERINFO.sub(_mask_broken, url) != url:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{_mask_userinfo(userinfo)}@{hostport}"
    query = _mask_params("?" + parts.query)[1:] if parts.query else parts.query
    fragment = _mask_params("#" + parts.fragment)[1:] if parts.fragment else parts.fragment
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url  # nothing secret: exactly the input, not urlunsplit's normalised form
    return SplitResult(parts.scheme, netloc, parts.path, query, fragment).geturl()


def redact_text(text: str) -> str:
    """`text` with the credentials of every URL in it (and of bare `?token=...` queries) masked."""
    text = _BROKEN_USERINFO.sub(_mask_broken, text)
    text = _USERINFO.sub(lambda m: m["scheme"] + _mask_userinfo(m["userinfo"]) + "@", text)
    return _mask_params(text)


class RedactingFilter(logging.Filter):
    """Masks credentials in a log record before any handler formats it.

    Installed on handlers (a filter on a logger does not see records propagated from child
    loggers such as urllib3's). The record itself is rewritten, so handlers after this one
    (pytest's caplog, a second stream) also only see the masked text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad %-arguments: the handler reports them when it formats
            return True
        masked = redact_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Add one RedactingFilter to every handler of `logger` (default: the root logger)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
