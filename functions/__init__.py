"""The Lambda functions, one package each, sharing the domain layer (`cdp`).

Importing a handler is most of a cold start: tens of thousands of objects (the libraries, the
models, the routes) that live as long as the process. The cyclic garbage collector would
walk them again and again while they are made, a full collection a tenth of the import, and
never find garbage among them; so it is off until the handler module has been imported,
which ends with `cdp.runtime.observability.end_of_init()`.
"""

import gc

gc.disable()
