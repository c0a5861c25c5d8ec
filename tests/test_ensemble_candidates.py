"""tools/ensemble_candidates.py: candidates are read as written, scored as build_ensemble scores them, and the
committed tables agree with the bundled card."""
import importlib.util
import re
from pathlib import Path

import pytest

from fer_helpers import models
from fer_helpers.course import SAMPLE_DIR
from fer_helpers.errors import FerError

ROOT = Path(__file__).resolve().parent.parent
STAGES = ROOT / "fer_helpers" / "weights" / "stages"
spec = importlib.util.spec_from_file_location("ensemble_candidates", ROOT / "tools" / "ensemble_candidates.py")
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)


def test_a_candidate_is_its_name_its_networks_and_whether_it_is_mirrored():
    assert tool.parse_candidate("pair = S/a + b.weights.h5:flip") == (
        "pair", ["fer_helpers/weights/stages/a", "b.weights.h5"], True)
    assert tool.parse_candidate("one=best") == ("one", ["best"], False)


@pytest.mark.parametrize("text", ["no equals sign", "=S/a", "name=", "name=S/a++S/b"])
def test_a_malformed_candidate_is_one_line_naming_it(text):
    with pytest.raises(FerError, match=re.escape(text)):
        tool.parse_candidate(text)


def test_a_folder_without_weights_is_one_line(tmp_path):
    with pytest.raises(FerError, match="without best.weights.h5"):
        tool.load_network(str(tmp_path))


def test_best_s_own_networks_as_a_candidate_are_best_itself(tmp_path):
    """best averages its members' networks (each the last run of its chain, a committed stage): the same networks as
    a candidate must answer every face as best does (no face only one of them gets right), at the same cost."""
    card = models.model_card("best")
    networks = "+".join(f"S/{member['runs'][-1]}" for member in card["members"])
    out = tmp_path / "table.md"
    tool.main(["--data", str(SAMPLE_DIR), "--candidate", f"same={networks}",
               "--candidate", f"mirrored={networks}:flip", "--out", str(out)])
    rows = {line.split(" | ")[0].strip("| "): line.strip("| \n").split(" | ")
            for line in out.read_text().splitlines() if line.startswith("| ") and "---" not in line}
    reference, same, mirrored = rows["best (the reference)"], rows["same"], rows["mirrored"]
    passes, mflops = str(len(card["members"])), str(round(card["mflops_per_face"]))
    assert same[1:5] == reference[1:5] == [passes, mflops, same[3], same[4]]
    assert same[5:] == ["0", "0", "1"]
    assert mirrored[1:3] == [str(2 * len(card["members"])), str(round(2 * card["mflops_per_face"]))]
    assert "2 candidates looked at" in out.read_text()
    assert f"The reference: `best`, {card['summary']}." in out.read_text()


def test_a_committed_candidate_table_made_against_the_bundled_best_quotes_its_card():
    """Each table names the card summary of the reference it was made against; where that is today's `best`, its
    reference row must be the card's validation figures (a table made against an earlier `best` keeps its own)."""
    card = models.model_card("best")
    tables = sorted(STAGES.glob("*/candidates.md"))
    assert tables, "no committed candidates.md under fer_helpers/weights/stages"
    for table in tables:
        text = table.read_text()
        assert "The reference: `best`, " in text, table
        if f"The reference: `best`, {card['summary']}." not in text:
            continue
        reference = next(line for line in text.splitlines() if line.startswith("| best (the reference)"))
        cells = reference.strip("| ").split(" | ")
        assert float(cells[3]) == pytest.approx(card["validation"]["accuracy"], abs=5e-5), table
        assert float(cells[4]) == pytest.approx(card["validation"]["macro_f1"], abs=5e-5), table
