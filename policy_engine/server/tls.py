"""TLS for `serve --ssl-certfile/--ssl-keyfile`: the certificate and key are loaded once before
the server starts, so a missing, unreadable or mismatched file is one clear error and exit 2,
not a traceback from each worker after the port is bound. uvicorn then loads the same files into
the context it serves with (in each `--workers N` process).
"""

from __future__ import annotations

import os
import ssl


class TLSError(ValueError):
    """The certificate or key cannot be used; the message names the file and the fix."""


def _readable(what: str, path: str) -> None:
    if os.path.isdir(path):
        raise TLSError(f"{what} {path} is a folder; name a PEM file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except FileNotFoundError:
        raise TLSError(f"{what} {path}: no such file") from None
    except PermissionError:
        raise TLSError(f"{what} {path}: cannot read it (permission denied for uid {os.getuid()}); "
                       "make it readable by the user that runs the server") from None
    except OSError as err:
        raise TLSError(f"{what} {path}: cannot read it ({err.strerror})") from None
    if b"-----BEGIN " not in head:
        raise TLSError(f"{what} {path} is not PEM (no `-----BEGIN` line); convert it, e.g. "
                       f"`openssl x509 -in {os.path.basename(path)} -out cert.pem` (DER certificate) or "
                       "`openssl pkcs12 -in bundle.p12 -out cert.pem -nodes`")


def check(certfile: str, keyfile: str | None, password: str | None) -> ssl.SSLContext:
    """Load the pair as uvicorn will; raises TLSError."""
    _readable("--ssl-certfile", certfile)
    if keyfile:
        _readable("--ssl-keyfile", keyfile)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(certfile, keyfile, password)
    except ssl.SSLError as err:
        reason = (err.reason or str(err)).lower()
        key = keyfile or certfile
        if "bad_decrypt" in reason or "bad password" in reason:
            raise TLSError(f"--ssl-keyfile {key}: the key is encrypted and --ssl-keyfile-password is wrong"
                           + ("" if password else " (none was given)")) from None
        if "key values mismatch" in reason:
            raise TLSError(f"--ssl-keyfile {key} is not the key of the certificate in {certfile}; "
                           "pass the key that belongs to it") from None
        raise TLSError(f"--ssl-certfile {certfile}" + (f" / --ssl-keyfile {keyfile}" if keyfile else "")
                       + f": cannot load a certificate and its private key ({err.reason or err}); "
                       "the certificate file holds the certificate (then any intermediates), the key file "
                       "(or the same file) its private key") from None
    except ValueError as err:  # a password that is too long or not text
        raise TLSError(f"--ssl-keyfile-password: {err}") from None
    return ctx
