"""Fills a switchboard history file with COUNT closed sessions, for the web view's history test.

Usage: fill_history.py FILE COUNT LISTENERS

The file must have been created (and migrated) by switchboard first. Sessions are spread over
LISTENERS listeners named bench-0, bench-1, ... and one per millisecond up to a minute ago, with
ULID ids as the service makes them (ten characters of the opening millisecond, then sixteen of
randomness), so they page and filter exactly as recorded ones do. One transaction.
"""
import datetime
import random
import sqlite3
import sys

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def base32(value, digits):
    return "".join(ALPHABET[(value >> shift) & 31] for shift in range(5 * (digits - 1), -1, -5))


def ulid(ms, rng):
    return base32(ms, 10) + base32(rng.getrandbits(80), 16)


def rfc3339(ms):
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def main():
    path, count, listeners = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(18)
    now = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000) - 60_000
    database = sqlite3.connect(path)
    database.execute("PRAGMA journal_mode=WAL")
    database.execute("PRAGMA synchronous=OFF")

    def rows():
        for index in range(count):
            ms = now - (count - index)
            opened = rfc3339(ms)
            closed = rfc3339(ms + 5)
            yield (
                ulid(ms, rng), "server", f"bench-{index % listeners}", "127.0.0.1:9000",
                f"127.0.0.1:{20000 + index % 40000}", "closed", opened, closed, "peer",
                index % 97, index % 89,
            )

    with database:
        database.executemany(
            "INSERT INTO sessions (id, role, listener, local_address, remote_address, state, opened_at, closed_at,"
            " close_reason, bytes_in, bytes_out) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )
    database.close()


if __name__ == "__main__":
    main()
