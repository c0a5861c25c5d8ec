"""book/quiz_bank.yml: at least 30 questions, every one with an answer and a chapter that exists, in a shape an LMS
export or a printed quiz can rely on; and the classroom kit's pages are in the book."""
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BANK = yaml.safe_load((ROOT / "book" / "quiz_bank.yml").read_text(encoding="utf-8"))
QUESTIONS = BANK["questions"]
CHAPTERS = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}


def test_enough_questions_with_unique_ids():
    assert len(QUESTIONS) >= 30
    ids = [q["id"] for q in QUESTIONS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.get("id", "?"))
def test_question_is_complete(question):
    assert set(question) >= {"id", "chapter", "type", "question", "answer", "explanation"}, question
    assert question["chapter"] in CHAPTERS, f"{question['id']}: no chapter notebooks/{question['chapter']}.ipynb"
    assert str(question["question"]).strip() and str(question["explanation"]).strip()
    kind = question["type"]
    assert kind in ("choice", "number", "short")
    if kind == "choice":
        choices = question["choices"]
        assert isinstance(choices, dict) and len(choices) >= 3
        assert question["answer"] in choices, f"{question['id']}: answer {question['answer']!r} is not a choice"
        assert len(set(map(str, choices.values()))) == len(choices)
    elif kind == "number":
        assert isinstance(question["answer"], (int, float)) and not isinstance(question["answer"], bool)
        assert isinstance(question["tolerance"], (int, float)) and question["tolerance"] >= 0
    else:
        assert len(str(question["answer"]).split()) >= 5, f"{question['id']}: say what a full answer says"


def test_every_chapter_has_questions():
    covered = {q["chapter"] for q in QUESTIONS}
    missing = sorted(CHAPTERS - covered)
    assert not missing, f"no quiz questions for {missing}"


def test_kit_pages_are_in_the_book_and_linked_from_the_guide():
    toc = (ROOT / "book" / "_toc.yml").read_text(encoding="utf-8")
    guide = (ROOT / "book" / "teachers_guide.md").read_text(encoding="utf-8")
    for page in ("syllabus", "projects", "rubric"):
        assert (ROOT / "book" / f"{page}.md").is_file()
        assert f"file: book/{page}" in toc
        assert f"({page}.md)" in guide
    assert "quiz_bank.yml" in guide


def test_projects_have_every_part_of_a_brief():
    text = (ROOT / "book" / "projects.md").read_text(encoding="utf-8")
    briefs = text.split("\n## ")[1:]
    assert 8 <= len(briefs) <= 10
    for brief in briefs:
        for part in ("**Question.**", "**Data.**", "**Compute.**", "**Success.**", "**Pitfalls.**"):
            assert part in brief, (brief.splitlines()[0], part)
        compute = brief.split("**Compute.**")[1].split("\n- **")[0]
        assert "CPU" in compute and "GPU" in compute, brief.splitlines()[0]
