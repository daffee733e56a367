"""Identity verification: a website proves which user is signed in by signing the user id.

The site's back end computes `hex(HMAC-SHA256(identity secret, user id))` and hands it to the
page; the page sends it with the user id. Without the secret nobody can produce it, so nobody
can read or change another person's preferences by typing their user id.
"""

from __future__ import annotations

import hashlib
import hmac


def sign(user_id: str, secret: str) -> str:
    message = user_id.encode("utf-8", errors="surrogatepass")
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verified(user_id: str, signature: str | None, secret: str) -> bool:
    # As bytes: compare_digest refuses text that is not ASCII, and a signature is client input.
    presented = str(signature).encode("utf-8", errors="surrogatepass")
    return bool(signature) and hmac.compare_digest(sign(user_id, secret).encode(), presented)
