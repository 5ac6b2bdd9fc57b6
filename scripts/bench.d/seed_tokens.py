"""Stores N live access tokens of client bench-cc directly in the database, with known
values (so the load can introspect them), and writes a sample of their values to a file.
With `expired`, the tokens (of other values) expired an hour ago, for the clean-up to
remove.

    seed_tokens.py DATABASE_URL N SAMPLE_FILE SAMPLE_SIZE [expired]
"""
import hashlib
import random
import subprocess
import sys
import time

url, n, sample_file, sample_size = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
now = int(time.time())
expired = len(sys.argv) > 5 and sys.argv[5] == "expired"
value = ("pc_at_expired_{}" if expired else "pc_at_stored_{}").format
issued_at, expires_at = (now - 7200, now - 3600) if expired else (now, now + 86400)

if url.startswith("postgres"):
    # PostgreSQL computes the hashes itself; one statement, no client-side loop.
    sql = (
        "INSERT INTO tokens (hash, kind, client_id, scope, issued_at, expires_at) "
        f"SELECT sha256(convert_to('{value('')}' || i, 'UTF8')), 'access', 'bench-cc', "
        f"'tokens:introspect', {issued_at}, {expires_at} FROM generate_series(0, {n - 1}) AS i"
    )
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True)
else:
    import sqlite3
    db = sqlite3.connect(url.removeprefix("sqlite://"))
    db.execute("PRAGMA journal_mode = WAL")
    rows = (
        (hashlib.sha256(value(i).encode()).digest(), "access", "bench-cc", "tokens:introspect", issued_at, expires_at)
        for i in range(n)
    )
    with db:
        db.executemany(
            "INSERT INTO tokens (hash, kind, client_id, scope, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()

with open(sample_file, "w") as f:
    for i in random.sample(range(n), min(n, sample_size)):
        f.write(value(i) + "\n")
