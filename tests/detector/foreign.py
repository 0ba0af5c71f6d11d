"""A deliberately different CDR writer, independent of ``detector.simulate``.

Other carriers' exports have other habits: quoted fields, CRLF line ends, a byte-order mark,
ISO timestamps with a zone, numbers in every form. Tests use this to check that ingestion does
not only understand our own generator.
"""

from __future__ import annotations

import datetime as dt
import gzip
import random
from pathlib import Path

FORMS = (
    lambda n: "0" + n,
    lambda n: "84" + n,
    lambda n: "+84 " + n[:3] + " " + n[3:6] + " " + n[6:],
    lambda n: "0084" + n,
    lambda n: "(0" + n[:2] + ") " + n[2:5] + "-" + n[5:],
)


def write_foreign_week(root: Path, *, seed: int = 3, numbers: int = 300, days: int = 7) -> int:
    """Write ``days`` daily CSV files (one gzipped) under ``root``; return the data rows written."""
    rng = random.Random(seed)
    subscribers = [rng.choice("3579") + "".join(rng.choice("0123456789") for _ in range(8)) for _ in range(numbers)]
    root.mkdir(parents=True, exist_ok=True)
    total = 0
    start = dt.datetime(2026, 10, 5, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    for day in range(days):
        lines = ['\ufeff"callee","caller","start_time","event_type","duration_s","imei","cell_id","extra"']
        for _ in range(rng.randint(400, 700)):
            a, b = rng.sample(subscribers, 2)
            when = start + dt.timedelta(days=day, seconds=rng.randint(0, 86399))
            if rng.random() < 0.3:
                when = when.astimezone(dt.timezone.utc)  # some mediation nodes write UTC
            kind = "SMS" if rng.random() < 0.25 else "Voice"
            duration = 0 if kind == "SMS" or rng.random() < 0.3 else rng.randint(1, 900)
            imei = "" if rng.random() < 0.1 else str(350000000000000 + rng.randint(0, 10**9))
            lines.append(",".join([
                f'"{rng.choice(FORMS)(b)}"', f'"{rng.choice(FORMS)(a)}"', when.isoformat(), kind,
                str(duration), imei, f'"LAC {rng.randint(1, 99)}"', '"x, y"',
            ]))
            total += 1
        text = "\r\n".join(lines) + "\r\n"
        name = root / f"export_{day:02d}.csv"
        if day == 3:
            with gzip.open(name.with_suffix(".csv.gz"), "wt", encoding="utf-8", newline="") as fh:
                fh.write(text)
        else:
            name.write_text(text, encoding="utf-8", newline="")
    return total
