"""The analyst report: content and escaping of the HTML, the two tables it computes, and a real
headless-Chromium render that must load without a single console message."""

import datetime as dt
import os
import re
import shutil
import subprocess

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from detector.contract import CATEGORIES
from detector.outputs import report
from detector.outputs.report import render_report, shared_imeis, top_dealers, write_report

TOP = "84900000001"
EVIL = "<script>alert('x')</script> & 5% answered"
FLAGGED_SCHEMA = {"msisdn": pl.Utf8, "category": pl.Utf8, "score": pl.Float64, "reasons": pl.Utf8, "source": pl.Utf8}
RUN = {"generated": "2026-11-25 04:00", "cdr rows": 5_800_000, "numbers scored": 300, "model": "default (shipped)",
       "precision target": 0.95, "rejected rows": 44}


def synthetic(n: int = 300, seed: int = 7) -> dict[str, pl.DataFrame]:
    """Scores, flagged list, registry and CDRs for ``n`` numbers; ``TOP`` is the top flagged number."""
    rng = np.random.default_rng(seed)
    msisdns = [f"849{i:08d}" for i in range(1, n + 1)]
    scores = pl.DataFrame({"msisdn": msisdns, **{f"score_{c}": rng.beta(0.3, 6, n) for c in CATEGORIES}})
    scores = scores.with_columns(pl.when(pl.col("msisdn") == TOP).then(0.99).otherwise(pl.col("score_voice_spam"))
                                 .alias("score_voice_spam"))
    long = scores.unpivot(index="msisdn", variable_name="category", value_name="score").with_columns(
        pl.col("category").str.strip_prefix("score_"))
    flagged = (
        long.filter(pl.col("score") > 0.3)
        .with_columns(
            reasons=pl.when(pl.col("msisdn") == TOP).then(pl.lit(EVIL)).otherwise(pl.lit("412 distinct callees/day")),
            source=pl.when(pl.col("score") > 0.6).then(pl.lit("both"))
            .when(pl.col("score") > 0.45).then(pl.lit("rule")).otherwise(pl.lit("model")),
        )
        .sort("score", descending=True)
        .select(list(FLAGGED_SCHEMA))
    )
    scores = scores.with_columns(flagged=pl.col("msisdn").is_in(flagged.get_column("msisdn").implode()))
    registry = pl.DataFrame({
        "msisdn": msisdns,
        "activation_time": [dt.datetime(2026, 10, 1) + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 9999, n)],
        "dealer_id": rng.choice(["D1", "D2", "D3", "<D4>"], n),
        "id_number": rng.choice([f"ID{i}" for i in range(50)], n),
        "subscription_type": "prepaid",
    })
    m = 600
    cdrs = pl.DataFrame({
        "caller": rng.choice(msisdns, m),
        "callee": rng.choice(msisdns, m),
        "start_time": [dt.datetime(2026, 11, 24)] * m,
        "duration_s": rng.integers(0, 300, m),
        "event_type": pl.Series(rng.choice(["voice", "sms"], m)).cast(pl.Enum(["voice", "sms"])),
        "answered": rng.random(m) < 0.5,
        "cell_id": rng.choice(["C1", "C2", None], m).tolist(),
        "imei": rng.choice([f"35{i:013d}" for i in range(40)] + [None], m).tolist(),
    })
    return {"scores": scores, "flagged": flagged, "registry": registry, "cdrs": cdrs}



@pytest.fixture(scope="module")
def data():
    return synthetic()


@pytest.fixture(scope="module")
def page(data):
    imeis = shared_imeis(data["cdrs"], data["flagged"])
    return render_report(flagged=data["flagged"], scores=data["scores"], registry=data["registry"],
                         imeis=imeis, run=RUN)


def empty_flagged() -> pl.DataFrame:
    return pl.DataFrame(schema=FLAGGED_SCHEMA)


# --- HTML content ----------------------------------------------------------------------------------


def test_synthetic_data_is_as_intended(data):
    assert data["flagged"].row(0)[:2] == (TOP, "voice_spam")
    assert set(data["flagged"]["source"]) == {"model", "rule", "both"}
    assert set(data["flagged"]["category"]) == set(CATEGORIES)


def test_report_has_every_section(page, data):
    for anchor in ("counts", "scores", "flagged", "dealers", "imeis"):
        assert f'<section id="{anchor}">' in page
    assert page.count("How to read this:") == 5
    assert page.count('<svg class="hist"') == 4
    assert page.count("<rect") == 2 * 20 * 4
    assert 'id="flagged-table"' in page and 'id="dealer-table"' in page and 'id="imei-table"' in page
    assert TOP in page
    assert "5,800,000" in page and "default (shipped)" in page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_counts_match_flagged_list(page, data):
    counts = page.split('<section id="counts">')[1].split("</section>")[0]
    flagged = data["flagged"]
    voice = flagged.filter(pl.col("category") == "voice_spam")
    row = re.search(r'c-voice_spam">voice_spam</span></td>(.*?)</tr>', counts).group(1)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    expected = [voice.height] + [int((voice["source"] == s).sum()) for s in ("model", "rule", "both")]
    assert [int(c.replace(",", "")) for c in cells[:4]] == expected
    assert f"<td>all categories</td><td class=\"n\">{flagged.height:,}</td>" in counts


def test_flagged_rows_and_order(page, data):
    table = page.split('id="flagged-table"')[1].split("</table>")[0]
    shown = re.findall(r'<tr><td class="n">(\d+)</td><td>(\d+)</td>', table)
    assert [int(rank) for rank, _ in shown] == list(range(1, data["flagged"].height + 1))
    assert [m for _, m in shown] == data["flagged"]["msisdn"].to_list()


def test_report_escapes_data_text(data):
    run = {"<b>note</b>": "a & b <i>", "count": 3}
    registry = data["registry"].with_columns(dealer_id=pl.lit("<img src=x onerror=alert(1)>"))
    flagged = data["flagged"].with_columns(
        category=pl.when(pl.col("msisdn") == TOP).then(pl.lit("<new>")).otherwise(pl.col("category")))
    imeis = pl.DataFrame({"imei": ["<svg onload=alert(2)>"], "sims": [3], "flagged_sims": [1], "msisdns": ["1,2,3"]})
    page = render_report(flagged=flagged, scores=data["scores"], registry=registry, imeis=imeis, run=run)
    assert page.count("<script") == 1  # ours only
    for raw in ("<script>alert('x')</script>", "<b>note</b>", "<img src=x", "<svg onload", "<new>", "<i>"):
        assert raw not in page
    assert html_escaped(EVIL) in page
    assert "&lt;b&gt;note&lt;/b&gt;" in page and "a &amp; b &lt;i&gt;" in page
    assert "&lt;new&gt;" in page  # an unknown category still gets a row and a (missing-column) chart


def html_escaped(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;"))


def test_report_references_nothing_external(page):
    assert not re.search(r"""(?:src|href|action|srcset|xlink:href)\s*=\s*["']?\s*(?:[a-z]+:|//)""", page, re.IGNORECASE)
    assert "url(" not in page and "@import" not in page
    assert "http://" not in page and "https://" not in page  # no xmlns either: inline SVG needs none
    assert re.findall(r'href="([^"]*)"', page) == ["#counts", "#scores", "#flagged", "#dealers", "#imeis"]


def test_report_with_empty_flagged_list(data):
    flagged = empty_flagged()
    imeis = shared_imeis(data["cdrs"], flagged)
    page = render_report(flagged=flagged, scores=data["scores"], registry=data["registry"], imeis=imeis, run={})
    assert "No numbers were flagged." in page
    assert "No SIM in the registry was flagged as pre-activated." in page
    assert "0 flagged rows on 0 distinct numbers, out of 300 numbers scored." in page
    assert page.count('<svg class="hist"') == 4
    assert imeis["flagged_sims"].sum() == 0


def test_report_without_registry_or_imeis(data):
    page = render_report(flagged=data["flagged"], scores=data["scores"], registry=None, imeis=None, run=RUN)
    assert "No subscriber registry was given" in page
    assert "Handset (IMEI) data was not given." in page
    assert 'id="dealer-table"' not in page and 'id="imei-table"' not in page
    assert TOP in page


def test_report_with_no_scores_and_empty_imeis():
    scores = pl.DataFrame(schema={"msisdn": pl.Utf8, **{f"score_{c}": pl.Float64 for c in CATEGORIES},
                                  "flagged": pl.Boolean})
    imeis = shared_imeis(pl.DataFrame(schema={"caller": pl.Utf8, "imei": pl.Utf8}), empty_flagged())
    page = render_report(flagged=empty_flagged(), scores=scores, registry=None, imeis=imeis, run={})
    assert "No handset was used by more than one SIM." in page
    assert page.count('<svg class="hist"') == 4


def test_flagged_list_is_capped(data, monkeypatch):
    monkeypatch.setattr(report, "MAX_FLAGGED_ROWS", 10)
    page = render_report(flagged=data["flagged"], scores=data["scores"], registry=None, imeis=None, run={})
    table = page.split('id="flagged-table"')[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + 10
    assert f"Showing the 10 highest-scoring of {data['flagged'].height:,} flagged rows" in page


def test_histograms_count_every_score(data):
    col = data["scores"]["score_simbox"]
    counts = report._histogram(col)
    assert counts.sum() == col.len()
    assert counts[0] == int((col < 0.05).sum())
    assert report._histogram(pl.Series([None, float("nan"), 1.0, 0.0, 1.5])).tolist() == [1] + [0] * 18 + [2]


def test_write_report(tmp_path, data):
    kwargs = {"flagged": data["flagged"], "scores": data["scores"], "registry": None, "imeis": None, "run": RUN}
    dest = tmp_path / "out" / "report.html"
    write_report(dest, **kwargs)
    assert dest.read_text(encoding="utf-8") == render_report(**kwargs)
    assert [p.name for p in dest.parent.iterdir()] == ["report.html"]


# --- The two computed tables -----------------------------------------------------------------------


def tiny_cdrs(pairs: list[tuple[str, str | None]]) -> pl.DataFrame:
    n = len(pairs)
    return pl.DataFrame({
        "caller": [c for c, _ in pairs],
        "callee": ["849999"] * n,
        "start_time": [dt.datetime(2026, 11, 24, 8)] * n,
        "duration_s": [30] * n,
        "event_type": pl.Series(["voice"] * n, dtype=pl.Enum(["voice", "sms"])),
        "answered": [True] * n,
        "cell_id": [None] * n,
        "imei": [i for _, i in pairs],
    }, schema_overrides={"cell_id": pl.Utf8, "imei": pl.Utf8})


def test_shared_imeis_exact():
    pairs = (
        [(f"8410{i}", "E") for i in range(10)]          # 10 SIMs: only 8 are listed
        + [("8401", "A"), ("8402", "A"), ("8402", "A"), ("8403", "A")]  # a repeated call counts once
        + [("8404", "B"), ("8405", "B")]
        + [("8401", "D"), ("8409", "D")]                # 8401 is on two handsets
        + [("8406", "C"), ("8406", "C")]                # one SIM only: not shared
        + [("8407", None), ("8408", None)]              # no IMEI: ignored
        + [(None, "A")]                                 # no caller: ignored
    )
    flagged = pl.DataFrame(
        {"msisdn": ["8403", "8401", "8401", "84106", "8407"], "category": ["simbox", "simbox", "voice_spam", "x", "y"],
         "score": [0.9] * 5, "reasons": [""] * 5, "source": ["model"] * 5}
    )
    expected = pl.DataFrame({
        "imei": ["E", "A", "D", "B"],
        "sims": [10, 3, 2, 2],
        "flagged_sims": [1, 2, 1, 0],
        "msisdns": ["84106,84100,84101,84102,84103,84104,84105,84107", "8401,8403,8402", "8401,8409", "8404,8405"],
    }, schema={"imei": pl.Utf8, "sims": pl.Int64, "flagged_sims": pl.Int64, "msisdns": pl.Utf8})
    assert_frame_equal(shared_imeis(tiny_cdrs(pairs), flagged), expected)
    assert_frame_equal(shared_imeis(tiny_cdrs(pairs), flagged, top=2), expected.head(2))
    unflagged = shared_imeis(tiny_cdrs(pairs), empty_flagged())
    assert unflagged["imei"].to_list() == ["E", "A", "B", "D"]  # ties on sims now broken by imei
    assert unflagged["flagged_sims"].to_list() == [0, 0, 0, 0]
    assert unflagged["msisdns"][1] == "8401,8402,8403"
    with pytest.raises(ValueError, match="top must be >= 0"):
        shared_imeis(tiny_cdrs(pairs), flagged, top=-1)


def test_histograms_overlay_the_flagged_whether_or_not_scores_say_which(data):
    """The flagged part of each histogram is counted among the rows the ``flagged`` column marks
    when there is one, and among all rows when not: the same bars either way."""
    sections = [report._histogram_section(scores, data["flagged"], list(CATEGORIES)).body
                for scores in (data["scores"], data["scores"].drop("flagged"))]
    assert sections[0] == sections[1]
    # Some bars have flagged numbers in them (the test would pass on two empty overlays).
    assert re.search(r"\b[1-9]\d* flagged", sections[0])


def test_top_dealers_exact():
    registry = pl.DataFrame({
        "msisdn": ["1", "2", "3", "4", "5", "6", "7"],
        "dealer_id": ["D1", "D1", "D1", "D1", "D2", "D2", "D3"],
    })
    flagged = pl.DataFrame({
        "msisdn": ["1", "2", "5", "6", "7", "7", "99", "3"],
        "category": ["preactivated_sim"] * 5 + ["voice_spam", "preactivated_sim", "voice_spam"],
        "score": [0.9] * 8, "reasons": [""] * 8, "source": ["model"] * 8,
    })
    expected = pl.DataFrame({
        "dealer_id": ["D2", "D1", "D3"], "flagged_sims": [2, 2, 1], "dealer_sims": [2, 4, 1], "share": [1.0, 0.5, 1.0],
    }, schema_overrides={"flagged_sims": pl.Int64, "dealer_sims": pl.Int64})
    assert_frame_equal(top_dealers(flagged, registry), expected)
    # A registry that lists a number twice: its SIM is still counted once.
    assert_frame_equal(top_dealers(flagged, pl.concat([registry, registry[:2]])), expected)
    page = render_report(flagged=flagged, scores=pl.DataFrame({"msisdn": ["1"]}), registry=registry, imeis=None,
                         run={})
    assert "1 SIM flagged as pre-activated is not in the registry." in page
    assert '<td>D2</td><td class="n">2</td><td class="n">2</td><td class="n">100.0%</td>' in page


# --- A real browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed, but CI is set and .ci/run installs it")
        pytest.skip("chromium is not installed (under CI this is a failure)")
    return exe


def render_in_chromium(exe: str, page: str, tmp_path) -> tuple[str, list[str]]:
    """Load ``page`` from a file in headless Chromium; return the DOM after load and the page's
    console messages.

    With ``--enable-logging=stderr`` Chromium logs every console message and uncaught exception as
    ``[...:INFO:CONSOLE:<line>] "<message>", source: <url> (<line>)`` on stderr, whatever its level
    (console.error looks like console.log), next to unrelated noise (dbus, GPU). The report never
    logs, so any CONSOLE line, or any "Uncaught" anywhere, is an error.
    """
    path = tmp_path / "page.html"
    path.write_text(page, encoding="utf-8")
    result = subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines()
              if re.search(r":CONSOLE[:(]\d*\)?\]", line) or "Uncaught" in line]
    return result.stdout, errors


def click_on_load(page: str, js: str) -> str:
    """``page`` with ``js`` run right after the report's own script (which binds the handlers)."""
    assert page.count("</body>") == 1
    return page.replace("</body>", f"<script>{js}</script></body>")


def flagged_numbers_in(dom: str) -> list[str]:
    table = dom.split('id="flagged-table"')[1].split("</table>")[0]
    return re.findall(r'<tr><td class="n">\d+</td><td>(\d+)</td>', table)


def test_report_renders_in_chromium(chromium, page, data, tmp_path):
    dom, errors = render_in_chromium(chromium, page, tmp_path)
    assert errors == []
    assert TOP in dom
    assert flagged_numbers_in(dom)[0] == TOP
    # The reason stayed text (Chromium re-serialises text escaping only & < >), it did not run.
    assert "&lt;script&gt;alert('x')&lt;/script&gt; &amp; 5% answered" in dom


def test_headers_sort_in_chromium(chromium, page, data, tmp_path):
    js = """
    document.querySelectorAll("table.sortable th").forEach(function (th) { th.click(); th.click(); });
    document.querySelector("#flagged-table th:nth-child(2)").click();
    """
    dom, errors = render_in_chromium(chromium, click_on_load(page, js), tmp_path)
    assert errors == []
    numbers = flagged_numbers_in(dom)
    assert numbers == sorted(data["flagged"]["msisdn"].to_list())
    assert re.search(r'<th [^>]*aria-sort="ascending"[^>]*>number</th>', dom)
    assert dom.count('aria-sort="') == 3  # one per sortable table, only on the last header clicked

    # The score column starts marked descending (the page's own order), so one click makes it ascending;
    # a numeric column not sorted yet starts descending.
    js = 'document.querySelector("#flagged-table th:nth-child(4)").click();'
    dom, errors = render_in_chromium(chromium, click_on_load(page, js), tmp_path)
    assert errors == []
    table = dom.split('id="flagged-table"')[1].split("</table>")[0]
    scores = [float(s) for s in re.findall(r'<td class="n">(\d\.\d{3})</td>', table)]
    assert len(scores) == data["flagged"].height and scores == sorted(scores)

    js = 'document.querySelector("#flagged-table th:nth-child(1)").click();'
    dom, errors = render_in_chromium(chromium, click_on_load(page, js), tmp_path)
    assert errors == []
    assert flagged_numbers_in(dom) == data["flagged"]["msisdn"].to_list()[::-1]


@pytest.mark.parametrize(
    "script, message",
    [
        ("undefinedFn()", "undefinedFn is not defined"),
        ('document.body.addEventListener("click", function () { null.sort(); }); document.body.click();',
         "Uncaught TypeError"),
        ('console.error("broken")', "broken"),
    ],
    ids=["top-level", "in-click-handler", "console-error"],
)
def test_chromium_check_catches_errors(chromium, page, tmp_path, script, message):
    """The console check must fail on a broken page, so a passing render test means something."""
    _, errors = render_in_chromium(chromium, f"<!DOCTYPE html><html><body><p>x</p><script>{script}</script></body></html>",
                                   tmp_path)
    assert any(message in e for e in errors), errors
    _, errors = render_in_chromium(chromium, click_on_load(page, script), tmp_path)
    assert any(message in e for e in errors), errors


def test_report_fits_a_phone_in_chromium(chromium, page, tmp_path):
    """At 420 px wide nothing makes the page itself scroll sideways: wide tables scroll in their box."""
    js = ("document.body.setAttribute('data-overflow', String(document.documentElement.scrollWidth - "
          "document.documentElement.clientWidth));")
    path = tmp_path / "phone.html"
    path.write_text(click_on_load(page, js), encoding="utf-8")
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--window-size=420,900",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    overflow = re.search(r'data-overflow="(-?\d+)"', result.stdout)
    assert overflow is not None and int(overflow.group(1)) <= 0, overflow


def test_counts_show_thresholds_allowlist_and_rules(data):
    flagged = data["flagged"].with_columns(
        rules=pl.when(pl.col("source") == "model").then(pl.lit("")).otherwise(pl.lit("mass calls to strangers")))
    page = render_report(flagged=flagged, scores=data["scores"], registry=None, imeis=None, run=RUN,
                         thresholds={c: 0.5 for c in CATEGORIES}, allowlisted={"voice_spam": 3})
    counts = page.split('id="counts"')[1].split("</section>")[0]
    assert "model threshold" in counts and "0.500" in counts
    assert "removed by the allowlist" in counts
    ruled = flagged.filter((pl.col("rules") != "") & (pl.col("category") == "voice_spam")).height
    assert (f'voice_spam</span></td><td>mass calls to strangers</td><td class="n">{ruled:,}</td>') in counts
    assert "<th>rules</th>" in page.split('id="flagged-table"')[1]


def night_history() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Three nights' flags: a voice wave that opens on the 2nd and repeats, one SMS case a night."""
    days = [dt.date(2026, 11, 2) + dt.timedelta(days=d) for d in range(3)]
    rows = [(days[0], "849001", "voice_spam", True), (days[0], "849002", "voice_spam", True),
            (days[1], "849001", "voice_spam", False), (days[1], "849002", "voice_spam", False),
            (days[1], "849003", "voice_spam", True), (days[2], "849003", "voice_spam", False),
            *((d, f"84910{i}", "sms_spam", True) for i, d in enumerate(days))]
    history = pl.DataFrame(rows, schema=["as_of", "msisdn", "category", "new"], orient="row")
    cases = pl.DataFrame({"msisdn": ["849001", "849002", "849003", "849100", "849101", "849102"],
                          "category": ["voice_spam"] * 3 + ["sms_spam"] * 3,
                          "status": ["closed", "closed", "open", "closed", "open", "open"]})
    return history, cases


def test_a_nightly_report_shows_flags_night_by_night_and_cases_by_status(data):
    history, cases = night_history()
    page = render_report(flagged=data["flagged"], scores=data["scores"], registry=None, imeis=None, run={},
                         history=history, cases=cases)
    nights = page[page.index('<section id="nights">'):page.index('<section id="counts">')]
    assert '<a href="#nights">' in page
    assert "2026-11-03: 1 new, 2 repeated" in nights and "2026-11-04: 0 new, 1 repeated" in nights
    assert "sms_spam flags per night: 3 new, 0 repeated over 3 nights" in nights
    assert "simbox flags per night: 0 new, 0 repeated over 3 nights" in nights
    ledger = nights[nights.index("Cases by status"):]
    assert re.search(r"voice_spam</span></td><td class=\"n\">1</td><td class=\"n\">2</td>", ledger)  # open, closed
    # A score run has no nights section.
    plain = render_report(flagged=data["flagged"], scores=data["scores"], registry=None, imeis=None, run={})
    assert 'id="nights"' not in plain and '#nights' not in plain


def test_a_nightly_report_renders_in_chromium(chromium, data, tmp_path):
    history, cases = night_history()
    page = render_report(flagged=data["flagged"], scores=data["scores"], registry=None, imeis=None, run=RUN,
                         history=history, cases=cases)
    dom, errors = render_in_chromium(chromium, page, tmp_path)
    assert errors == []
    assert "Flags night by night" in dom and "Cases by status" in dom
