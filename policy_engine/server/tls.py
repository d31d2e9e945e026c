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


def _readable(what: str, path: str) -> bytes:
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
                       f"`openssl x509 -inform der -in {os.path.basename(path)} -out cert.pem` (a DER certificate) or "
                       "`openssl pkcs12 -in bundle.p12 -out cert.pem -nodes`")
    return head


def check(certfile: str, keyfile: str | None, password: str | None) -> ssl.SSLContext:
    """Load the pair as uvicorn will; raises TLSError."""
    head = _readable("--ssl-certfile", certfile)
    key_head = _readable("--ssl-keyfile", keyfile) if keyfile else head
    encrypted = b"ENCRYPTED" in key_head  # PKCS#8 `BEGIN ENCRYPTED PRIVATE KEY`, or `Proc-Type: 4,ENCRYPTED`
    if encrypted and not password:  # OpenSSL would ask for it on the terminal, and a service has none
        raise TLSError(f"--ssl-keyfile {keyfile or certfile}: the key is encrypted; give its password with "
                       "POLICY_ENGINE_SSL_KEYFILE_PASSWORD (or ssl-keyfile-password in the config file)")
    if not keyfile and b"PRIVATE KEY-----" not in head:
        raise TLSError(f"--ssl-certfile {certfile} holds no private key; pass its key with --ssl-keyfile "
                       "(or append the key to the certificate file)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(certfile, keyfile, password)
    except ssl.SSLError as err:
        reason = f"{err.reason} {err}".lower().replace("_", " ")
        key = keyfile or certfile
        if "key values mismatch" in reason:
            raise TLSError(f"--ssl-keyfile {key} is not the key of the certificate in {certfile}; "
                           "pass the key that belongs to it") from None
        if encrypted or "bad decrypt" in reason:
            raise TLSError(f"--ssl-keyfile {key}: the key is encrypted and --ssl-keyfile-password is wrong") from None
        raise TLSError(f"--ssl-certfile {certfile}" + (f" / --ssl-keyfile {keyfile}" if keyfile else "")
                       + f": cannot load a certificate and its private key ({err.reason or err}); "
                       "the certificate file holds the certificate (then any intermediates), the key file "
                       "(or the same file) its private key") from None
    except ValueError as err:  # a password that is too long or not text
        raise TLSError(f"--ssl-keyfile-password: {err}") from None
    return ctx
