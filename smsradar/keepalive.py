"""How long our HTTP clients (the simulator's poster, the bench's load generator) keep an
idle connection to the receiver.

Dropped well before the receiver closes it (5 s, ``receiver.server.KEEP_ALIVE_S``): at equal
limits a request can go out on a connection being closed and fail (1 of 90,397 requests in
the 30-minute soak of 2026-12-03). Its own module, so the load generator, a process of its
own, gets it without importing the poster's HTTP client and the providers (0.67 s).
"""

KEEPALIVE_EXPIRY_S = 2.0
