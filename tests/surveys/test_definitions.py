"""Surveys as data (emails/surveys/*.toml): what a coordinator may write, every
mistake named with its file and question, and how submitted answers are read."""

from __future__ import annotations

import textwrap

import pytest

from emails import surveys
from emails.surveys import SurveyError


def write(folder, text: str, name: str = "trial"):
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def folders(tmp_path):
    (tmp_path / "surveys").mkdir()
    (tmp_path / "sequences").mkdir()
    (tmp_path / "sequences" / "trial_journey.toml").write_text("")
    return tmp_path / "surveys", tmp_path / "sequences"


GOOD = """
    name = "trial"
    title = "A trial"
    audience = "champion"
    sequence = "trial_journey"
    buddy_offer = { question = "buddy", answer = "yes" }

    [[question]]
    key = "overall"
    kind = "rating"
    text = "How was it?"
    required = true

    [[question]]
    key = "why_low"
    kind = "text"
    text = "What went wrong?"
    when = { question = "overall", at_most = 2 }

    [[question]]
    key = "score"
    kind = "nps"
    text = "Recommend?"

    [[question]]
    key = "liked"
    kind = "multiple"
    text = "What did you like?"
    choices = [{ value = "a", label = "A" }, { value = "b", label = "B" }, { value = "c", label = "C" }]

    [[question]]
    key = "about_b"
    kind = "text"
    text = "Tell us about B"
    when = { question = "liked", in = ["b"] }

    [[question]]
    key = "buddy"
    kind = "single"
    text = "Become a buddy?"
    choices = ["yes", "no"]
"""


def test_the_real_surveys_pass_every_check():
    assert surveys.check() == []
    graduation = surveys.load("graduation")
    assert graduation.first.kind in surveys.ONE_CLICK_KINDS and graduation.first.when is None
    assert graduation.questions[-1].key == "become_buddy" and graduation.buddy_offer == ("become_buddy", "yes")
    assert graduation.graduate_after_weeks == 10
    assert {q.kind for q in graduation.questions} == set(surveys.KINDS)
    assert surveys.load("buddy_pairing").audience == "buddy"


def test_a_good_file_loads(folders):
    directory, journeys = folders
    write(directory, GOOD)
    assert surveys.check(directory, sequences_dir=journeys) == []
    survey = surveys.load("trial", directory)
    assert [q.key for q in survey.questions] == ["overall", "why_low", "score", "liked", "about_b", "buddy"]
    assert [c.label for c in survey.first.options()] == ["1", "2", "3", "4", "5"]
    assert len(survey.question("score").options()) == 11
    assert survey.question("buddy").choices[0] == surveys.Choice("yes", "yes")
    assert survey.question("why_low").when.describe(survey) == "Only if your answer to question 1 was 2 or less."


def test_answers_are_read_and_conditions_applied(folders):
    directory, _journeys = folders
    survey = surveys.load("trial", write(directory, GOOD).parent)
    answers, errors = surveys.read_answers(survey, {
        "q-overall": ["2"], "q-why_low": ["  Too fast.  "], "q-score": ["10"],
        "q-liked": ["c", "a"], "q-about_b": ["ignored: b was not chosen"], "q-buddy": ["yes"],
    })
    assert errors == {}
    assert answers == {"overall": 2, "why_low": "Too fast.", "score": 10, "liked": ["a", "c"], "buddy": "yes"}
    assert survey.wants_buddy(answers)

    answers, errors = surveys.read_answers(survey, {
        "q-overall": ["5"], "q-why_low": ["not asked"], "q-score": ["11"], "q-liked": ["a", "zzz"],
        "q-buddy": ["yes", "no"],
    })
    assert answers == {"overall": 5}
    assert errors == {"score": "Please choose a number from 0 to 10.",
                      "liked": "Please choose from the answers listed.",
                      "buddy": "Please choose one answer."}
    assert surveys.read_answers(survey, {})[1] == {"overall": "Please answer this question."}
    assert surveys.read_answers(survey, {"q-overall": ["x" * 3]})[1] == {
        "overall": "Please choose a number from 1 to 5."}


def test_a_one_click_value_is_only_a_valid_answer_to_the_first_question(folders):
    directory, _journeys = folders
    survey = surveys.load("trial", write(directory, GOOD).parent)
    assert survey.one_click("4") == 4
    assert survey.one_click("6") is None and survey.one_click("-1") is None
    assert survey.one_click(None) is None and survey.one_click("four") is None


def test_every_mistake_is_named_with_its_file_and_question(folders):
    directory, journeys = folders
    write(directory, """
        name = "other"
        audience = "coordinator"
        sequence = "nowhere"
        colour = "blue"
        graduate_after_weeks = 3
        buddy_offer = { question = "free", answer = "yes" }

        [[question]]
        key = "free"
        kind = "text"
        text = "Say something"

        [[question]]
        key = "Bad Key"
        kind = "stars"
        text = ""

        [[question]]
        key = "pick"
        kind = "single"
        text = "Pick"
        choices = [{ value = "a", label = "A" }]
        when = { question = "later", in = ["x"] }

        [[question]]
        key = "after_free"
        kind = "rating"
        text = "Rate"
        when = { question = "free", in = ["x"] }
        low = 3
    """, "bad")
    problems = surveys.check(directory, sequences_dir=journeys)
    assert problems == [
        "bad.toml: unknown setting 'colour' (known: audience, buddy_offer, graduate_after_weeks, intro, "
        "name, question, sequence, title)",
        "bad.toml: name = 'other' must match the file name 'bad'",
        'bad.toml: needs a title = "..." (shown at the top of the survey page)',
        "bad.toml: audience = 'coordinator' must be one of champion, buddy",
        'bad.toml: graduate_after_weeks only makes sense for audience = "champion"',
        "bad.toml: question 'Bad Key': needs a key of lowercase letters, digits and \"_\", starting with a "
        "letter (e.g. key = \"helped\")",
        "bad.toml: question 'Bad Key': kind = 'stars' must be one of rating, nps, single, multiple, text",
        "bad.toml: question 'Bad Key': needs the question itself: text = \"...\"",
        "bad.toml: question 'pick': needs at least two choices = [{ value = \"yes\", label = \"Yes\" }, ...]",
        "bad.toml: question 'pick': when: 'later' is not an earlier question of this survey",
        "bad.toml: question 'after_free': low is a label (text) for the ends of a rating or nps scale only",
        "bad.toml: question 'after_free': when: question 'free' is free text; a condition needs a "
        "rating, nps or choice",
        'bad.toml: buddy_offer = { question = "...", answer = "..." } must name a single or multiple '
        "choice question of this survey",
    ]


def test_the_first_question_must_be_answerable_with_one_click(folders):
    directory, journeys = folders
    write(directory, """
        title = "T"
        audience = "buddy"
        sequence = "gone"
        [[question]]
        key = "words"
        kind = "text"
        text = "Anything?"
    """)
    assert surveys.check(directory, sequences_dir=journeys) == [
        "trial.toml: question 'words': the first question is answered with one click in the email, "
        "so it must be rating, nps, single, not text",
    ]
    write(directory, GOOD.replace('sequence = "trial_journey"', 'sequence = "gone"'))
    assert surveys.check(directory, sequences_dir=journeys) == [
        f"trial.toml: sequence 'gone' does not exist (looked for {journeys / 'gone.toml'})"]
    with pytest.raises(SurveyError, match="no survey named 'nope'"):
        surveys.load("nope", directory)


def test_conditions_check_their_values_against_the_earlier_question(folders):
    directory, journeys = folders
    base = GOOD.replace("when = { question = \"overall\", at_most = 2 }",
                        "when = { question = \"overall\", at_most = 9 }")
    write(directory, base)
    assert surveys.check(directory, sequences_dir=journeys) == [
        "trial.toml: question 'why_low': when: 9 is not on the scale of question 'overall' (1 to 5)"]
    write(directory, GOOD.replace('in = ["b"]', 'in = ["z"]'))
    assert surveys.check(directory, sequences_dir=journeys) == [
        "trial.toml: question 'about_b': when: 'z' is not an answer of question 'liked'"]
    write(directory, GOOD.replace('in = ["b"]', 'at_least = 1'))
    assert surveys.check(directory, sequences_dir=journeys) == [
        "trial.toml: question 'about_b': when: at_least and at_most need a rating or nps question, "
        "not multiple"]


def test_flask_emails_check_reports_survey_problems(app, runner, monkeypatch, tmp_path):
    write(tmp_path, GOOD.replace("kind = \"nps\"", "kind = \"stars\""), "trial")
    monkeypatch.setattr(surveys, "SURVEYS", tmp_path)
    result = runner.invoke(args=["emails", "check"])
    assert result.exit_code != 0
    assert "trial.toml: question 'score': kind = 'stars'" in result.output
