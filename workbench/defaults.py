"""What `cdp dev` listens on and the keys it prints when given none: the command line reads
them too, so it must be able to without importing the local runtime (moto and all, a second
on every `cdp` command)."""

DEV_HOST = "127.0.0.1"
DEV_PORT = 8080
DEV_URL = f"http://{DEV_HOST}:{DEV_PORT}"
DEV_WRITE_KEY = "wk_dev_local"
DEV_SECRET_KEY = "sk_dev_local"  # noqa: S105 (a printed local default, not a secret)
