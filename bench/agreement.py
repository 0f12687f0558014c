"""Time the agreement service on the generator's study (65 participants by default).

    .venv/bin/python bench/agreement.py [--participants 65] [--chars 30000] [--study DIR]

Generates the study with ../shared/tools/make_study.py into a temporary folder (or reads DIR/study.qdpx),
reads both coders' selections, then times :func:`analysis.coding.agreement.agreement_report` over every
transcript and code. Reading the XML is timed separately: it is not part of the service.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from analysis.coding.agreement import TranscriptCodings, agreement_report

NS = {"q": "urn:QDA-XML:project:1.0"}
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def load(qdpx: Path) -> list[TranscriptCodings]:
    with zipfile.ZipFile(qdpx) as z:
        root = etree.fromstring(z.read("project.qde"), etree.XMLParser(resolve_entities=False, no_network=True))
        users = {u.get("guid"): u.get("name") for u in root.iterfind(".//q:Users/q:User", NS)}
        out = []
        for source in root.iterfind(".//q:Sources/q:TextSource", NS):
            inner = (source.get("plainTextPath") or "").replace("internal://", "")
            length = len(z.read(f"sources/{inner}").decode("utf-8"))
            by_coder: dict[str, dict[str, list[tuple[int, int]]]] = {"coder_a": {}, "coder_b": {}}
            for sel in source.iterfind("q:PlainTextSelection", NS):
                coder = users[sel.get("creatingUser")]
                span = (int(sel.get("startPosition") or 0), int(sel.get("endPosition") or 0))
                for ref in sel.iterfind("q:Coding/q:CodeRef", NS):
                    by_coder.setdefault(str(coder), {}).setdefault(str(ref.get("targetGUID")), []).append(span)
            out.append(TranscriptCodings(key=source.get("name"), length=length,
                                         coder_a=by_coder["coder_a"], coder_b=by_coder["coder_b"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--participants", type=int, default=65)
    ap.add_argument("--chars", type=int, default=30000)
    ap.add_argument("--study", type=Path, help="a folder holding study.qdpx (default: generate one)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.study or Path(tmp)
        if args.study is None:
            subprocess.run([sys.executable, str(SHARED / "tools" / "make_study.py"), tmp, "--participants",
                            str(args.participants), "--chars", str(args.chars)], check=True)
        t0 = time.perf_counter()
        transcripts = load(folder / "study.qdpx")
        read_s = time.perf_counter() - t0
    chars = sum(t.length for t in transcripts)
    n_a = sum(len(v) for t in transcripts for v in t.coder_a.values())
    n_b = sum(len(v) for t in transcripts for v in t.coder_b.values())
    times = []
    report = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        report = agreement_report(transcripts)
        times.append(time.perf_counter() - t0)
    assert report is not None
    print(f"{len(transcripts)} transcripts, {chars:,} characters, {n_a:,} + {n_b:,} codings, {len(report.per_code)} codes")
    print(f"reading study.qdpx (not timed as the service): {read_s:.2f} s")
    print(f"agreement_report: best {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms "
          f"over {args.repeat} runs (target: under 5 s)")
    o = report.overall
    print(f"overall: {o.percent:.2f} % agreement, kappa {o.kappa:.4f}, alpha {o.alpha:.4f}")


if __name__ == "__main__":
    main()
