"""`suqiu demo` runs the whole pipeline with nothing but suqiu installed."""

import subprocess
from pathlib import Path

from tests.deployment import SUQIU


def test_demo_runs_the_whole_cycle(tmp_path: Path) -> None:
    """The demo reads the sample mail, sends acknowledgements and forms over
    real SMTP, forwards a unit's answer, and closes the case on 满意."""
    done = subprocess.run(
        [SUQIU, "demo", "--keep", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "重复邮件" in out and "自动回复" in out and "心理危机预警" in out
    assert "对单位保密" in out
    assert "SQ" in out and "已销号" in out
    sent = sorted((tmp_path / "sent").glob("*.eml"))
    assert len(sent) >= 12
    assert (tmp_path / "suqiu.db").exists()
