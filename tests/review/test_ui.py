"""The review server's web UI in headless Chromium: log in, review a chat record, pull it back;
markup in generated text stays inert text. Screenshots go to test-artifacts/review/."""

import logging
import shutil
import tempfile
from pathlib import Path

import pytest

from distilabel_magpie.review.pull import LoadReviewedFromArgilla
from distilabel_magpie.review.push import PushChatToArgilla, PushSFTToArgilla

from .conftest import require

pytestmark = [pytest.mark.e2e, pytest.mark.argilla, pytest.mark.browser]
logging.getLogger("distilabel.step").setLevel(logging.ERROR)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "review"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
XSS = 'Try <script>window.__xss = "script"</script> or <img src=x onerror="window.__xss = \'img\'"> here.'


@pytest.fixture(scope="module")
def page(review_server):
    require("chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (used with /usr/bin/chromium)")
    _, creds = review_server
    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 900},
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{creds.api_url}/sign-in")
        page.get_by_label("Username").fill(creds.username)
        page.get_by_label("Password").fill(creds.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "sign-in" not in url)
        yield page
        context.close()


def push(step_class, name, rows):
    step = step_class(dataset_name=name)
    step.load()
    out = next(step.process(rows))
    return step._dataset, out


def test_review_a_chat_record_in_the_ui_and_pull_it_back(review_server, page, dataset_name):
    _, creds = review_server
    chat = [{"role": "user", "content": "What is the boiling point of water at sea level?"},
            {"role": "assistant", "content": "About 90 degrees Celsius."},
            {"role": "user", "content": "In Fahrenheit?"},
            {"role": "assistant", "content": "About 194 degrees Fahrenheit."}]
    row = {"messages": chat, "model_name": "smollm2", "quality": "good", "quality_score": 0.92,
           "difficulty": "easy", "task_category": "Information seeking", "task_category_score": 0.97}
    dataset, _out = push(PushChatToArgilla, dataset_name, [row])

    page.goto(f"{creds.api_url}/dataset/{dataset.id}/annotation-mode")
    page.get_by_text("What is the boiling point of water at sea level?").wait_for()
    for message in chat:  # every turn is rendered in the chat field (the last also in the correction box)
        assert page.get_by_text(message["content"], exact=True).count() == (2 if message is chat[-1] else 1)
    page.click('label[for="quality_2"]')
    page.click('label[for="verdict_accept"]')
    box = page.locator('[contenteditable="true"]').first
    assert box.inner_text().strip() == chat[-1]["content"]  # the correction starts as the final answer
    box.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("About 212 degrees Fahrenheit (100 degrees Celsius).")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "annotation-chat.png"))
    with page.expect_response(lambda r: "/responses" in r.url and r.request.method != "GET") as submitted:
        page.click("button.button--submit")
    assert submitted.value.ok

    load = LoadReviewedFromArgilla(kind="chat", dataset_name=dataset_name)
    load.load()
    rows = [r for batch, _ in load.process() for r in batch]
    assert load.counts.pulled == 1 and load.counts.pending == 0
    assert rows[0]["messages"][:3] == chat[:3]
    corrected = {"role": "assistant", "content": "About 212 degrees Fahrenheit (100 degrees Celsius)."}
    assert rows[0]["messages"][3] == corrected
    assert rows[0]["review_quality"] == 2 and rows[0]["review_edited"] is True
    assert rows[0]["original_response"] == chat[3]["content"]
    assert (ARTIFACTS / "annotation-chat.png").stat().st_size > 10_000


@pytest.mark.parametrize("kind", ["sft", "chat"])
def test_markup_in_generated_text_is_shown_as_inert_text(review_server, page, dataset_name, kind):
    _, creds = review_server
    if kind == "sft":
        dataset, _ = push(PushSFTToArgilla, dataset_name, [{"instruction": "Show me some HTML", "response": XSS}])
    else:
        dataset, _ = push(PushChatToArgilla, dataset_name, [{"messages": [
            {"role": "user", "content": "Show me some HTML"}, {"role": "assistant", "content": XSS}]}])
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{creds.api_url}/dataset/{dataset.id}/annotation-mode")
    page.get_by_text("Show me some HTML").wait_for()
    # the markup is on screen, as text: in the field and in the correction box that starts as it
    shown = page.get_by_text('<script>window.__xss = "script"</script>', exact=False)
    assert shown.count() == 2
    assert page.get_by_text("""<img src=x onerror="window.__xss = 'img'">""", exact=False).count() == 2
    page.wait_for_timeout(500)  # give an injected image time to fail and fire onerror
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src='x']").count() == 0 and dialogs == []
    page.screenshot(path=str(ARTIFACTS / f"inert-markup-{kind}.png"))


def _metadata_in_the_filter(page) -> list:
    page.get_by_text("Filters", exact=True).first.click()
    page.get_by_text("Metadata", exact=True).first.click()
    items = page.locator(".metadata-filter .category__list button.category__item > span")
    items.first.wait_for()
    names = [items.nth(i).inner_text().strip() for i in range(items.count())]
    page.keyboard.press("Escape")
    return names


def test_the_review_ui_shows_flags_and_suggestions_and_only_what_the_data_has(review_server, page, dataset_name):
    """A truncated answer pushed with include_flagged carries a visible flag; the correction box
    starts as the answer; judge-tag questions exist for the tags the rows have, pre-filled; the
    metadata filter lists only properties with values; the reward difference pre-fills the verdict."""
    _, creds = review_server
    row = {"instruction": "How do I boil an egg?", "response": "Put the egg in boiling water for",
           "response_status": "truncated", "quality": "good", "difficulty": "easy", "reward": 1.5,
           "reward_difference": 0.7, "model_name": "smollm2"}
    step = PushSFTToArgilla(dataset_name=dataset_name, include_flagged=True)
    step.load()
    (out,) = next(step.process([row]))
    assert out["argilla_status"] == "created"
    page.goto(f"{creds.api_url}/dataset/{step._dataset.id}/annotation-mode")
    page.get_by_text("How do I boil an egg?").wait_for()
    assert page.get_by_text("Flag", exact=True).count() == 1
    assert page.get_by_text("The answer hit the token limit: it stops mid-sentence. (response_status: truncated)",
                            exact=True).count() == 1
    box = page.locator('[contenteditable="true"]').first
    assert box.inner_text().strip() == row["response"]
    assert page.get_by_text("Instruction quality (judge's tag)").count() == 1
    assert page.get_by_text("Difficulty (judge's tag)").count() == 1
    assert page.get_by_text("Task category (judge's tag)").count() == 0  # no row has one
    assert page.locator("#instruction_quality_good").is_checked() and page.locator("#difficulty_easy").is_checked()
    assert page.locator("#verdict_accept").is_checked()  # r* - r_base > 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "annotation-flagged-sft.png"))
    assert sorted(_metadata_in_the_filter(page)) == sorted(
        ["model", "response_status", "tag_quality", "tag_difficulty", "reward", "reward_difference",
         "instruction_length", "response_length"])

    bare = f"{dataset_name}-bare"
    step = PushSFTToArgilla(dataset_name=bare)
    step.load()
    next(step.process([{"instruction": "Name a prime.", "response": "7"},
                       {"instruction": "Cut short", "response": "It", "response_status": "truncated"}]))
    assert step.counts.created == 1 and step.counts.skipped == 1  # the flagged answer is not pushed by default
    page.goto(f"{creds.api_url}/dataset/{step._dataset.id}/annotation-mode")
    page.get_by_text("Name a prime.").wait_for()
    assert page.get_by_text("(judge's tag)", exact=False).count() == 0
    assert page.get_by_text("Flag", exact=True).count() == 0
    assert sorted(_metadata_in_the_filter(page)) == ["instruction_length", "response_length"]


def test_chat_datasets_speak_of_the_assistants_answers_throughout(review_server, page, dataset_name):
    _, creds = review_server
    chat = [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."}]
    dataset, _ = push(PushChatToArgilla, dataset_name, [{"messages": chat}])
    page.goto(f"{creds.api_url}/dataset/{dataset.id}/annotation-mode")
    page.get_by_text("Name a colour.").wait_for()
    assert page.get_by_text("Quality of the assistant's answers (1 = unusable, 5 = excellent)").count() == 1
    assert page.get_by_text("Corrected final answer").count() == 1
    assert "Response quality" not in page.inner_text("body")
    guidelines = dataset.settings.guidelines
    assert "Rate the assistant's answers" in guidelines and "*Corrected final answer*" in guidelines
