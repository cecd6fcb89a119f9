from distilabel_magpie.generation.cleaning import Answer, clean_query, clean_response, normalize
from distilabel_magpie.engines.base import Completion
from distilabel_magpie.templates import get_preset

CHATML = get_preset("qwen2")


def c(text, reason="stop"):
    return Completion(text=text, finish_reason=reason, prompt_tokens=3, completion_tokens=5)


def test_ok_query_is_stripped():
    assert clean_query(c("  How do I sort a list in Python?\n"), CHATML) == ("How do I sort a list in Python?", "ok")


def test_question_labels_are_removed():
    assert clean_query(c("Question: What is DNA?"), CHATML) == ("What is DNA?", "ok")
    assert clean_query(c("### Instruction: Write a haiku."), CHATML) == ("Write a haiku.", "ok")
    assert clean_query(c("**User:** Hi there"), CHATML) == ("Hi there", "ok")


def test_truncated_query():
    assert clean_query(c("An endless query", "length"), CHATML)[1] == "truncated"


def test_marker_the_backend_did_not_stop_at_is_cut():
    text, status = clean_query(c("What is 2+2?<|im_end|>\n<|im_start|>assistant\n4"), CHATML)
    assert (text, status) == ("What is 2+2?", "ok")
    # a marker cut also rescues a query that then ran to the token limit
    assert clean_query(c("What is 2+2?<|im_end|>junk junk", "length"), CHATML) == ("What is 2+2?", "ok")


def test_dialogue_inside_one_turn_is_leaked_role():
    text, status = clean_query(c("What is 2+2?\nAssistant: It is 4."), CHATML)
    assert status == "leaked_role" and text == "What is 2+2?"


def test_a_role_header_rendered_as_empty_text_is_leaked_role():
    """Servers that print special tokens as nothing turn "<|im_start|>assistant\n" into a bare
    "assistant" line (Llama-3: "assistant\n\n", Gemma: "model\n"): the query ran into the next turn."""
    for text in ("What is 2+2?\nassistant\nIt is 4.", "What is 2+2?assistant\n\nIt is 4.",
                 "What is 2+2?\nmodel\nFour"):
        assert clean_query(c(text, "length"), CHATML) == ("What is 2+2?", "leaked_role"), text
    assert clean_query(c("assistant\nI'm glad to hear that you're", "length"), CHATML) == ("", "leaked_role")
    # a role word inside a sentence is not a header
    assert clean_query(c("How do I train my assistant\nto file emails?"), CHATML)[1] == "ok"


def test_empty_and_error():
    assert clean_query(c("   \n"), CHATML) == ("", "empty")
    assert clean_query(c("Question:"), CHATML) == ("", "empty")
    # punctuation or symbols alone (real queries of Qwen2.5-Coder-1.5B without its system turn)
    for text in (",,,", "?", "+", "👻", "})"):
        assert clean_query(c(text), CHATML) == (text, "empty"), text
    assert clean_query(c("2+2?"), CHATML) == ("2+2?", "ok") and clean_query(c("你好？"), CHATML) == ("你好？", "ok")
    assert clean_query(Completion("", "error", 0, 0, error="boom"), CHATML) == ("", "error")


def test_normalize_for_duplicates():
    assert normalize("What  is DNA?\n") == normalize("what is dna?")


def test_response_statuses():
    assert clean_response(None, CHATML) == Answer(None, "skipped")
    assert clean_response(c(" Paris. "), CHATML) == Answer("Paris.", "ok")
    assert clean_response(c("Paris, and", "length"), CHATML) == Answer("Paris, and", "truncated")
    assert clean_response(c(""), CHATML) == Answer("", "empty")
    assert clean_response(Completion("", "error", 0, 0, error="boom"), CHATML) == Answer(None, "error", error="boom")


def test_looping_samples_are_repetitive():
    assert clean_query(c("Tell me tell me tell me", "repetition"), CHATML)[1] == "repetitive"
    assert clean_response(c("Sure. Sure. Sure.", "repetition"), CHATML) == Answer("Sure. Sure. Sure.", "repetitive")
    # a role marker before the loop still rescues the query
    assert clean_query(c("What is 2+2?<|im_end|>loop loop", "repetition"), CHATML) == ("What is 2+2?", "ok")


def test_repetition_guard_fires_on_the_third_occurrence_only():
    from distilabel_magpie.engines.base import RepetitionGuard, repetition_end

    loop = [1, 2, 3, 4]
    assert repetition_end([9] + loop * 3 + [5], 4) == 13  # third [1, 2, 3, 4] ends at token 13
    assert repetition_end([9] + loop * 2 + [5], 4) is None  # twice is not a loop
    assert repetition_end(list(range(100)), 4) is None
    assert repetition_end([7] * 50, 0) is None  # off
    guard, seen = RepetitionGuard(2), []
    fired = []
    for t in [5, 6, 5, 6, 5, 6]:
        seen.append(t)
        fired.append(guard.looping(seen))
    assert fired == [False, False, False, False, False, True]


QWEN25 = get_preset("qwen2.5")
QWEN_SYSTEM = QWEN25.default_system_turn  # "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. ..."


def test_queries_that_carry_their_own_answer_are_self_answered():
    """Forms seen in Qwen2.5-Coder-1.5B's queries: a quiz with its key, a Q:/A: pair."""
    quiz = "Which of the following animals is a mammal?\nA. Shark\nB. Frog\nC. Elephant\nThe answer is: C. Elephant"
    assert clean_query(c(quiz), CHATML) == (quiz.rsplit("\n", 1)[0], "self_answered")
    assert clean_query(c('Q: Who is the author of "The Alchemist"?\nA: Paulo Coelho'), CHATML) == (
        'Who is the author of "The Alchemist"?', "self_answered")
    assert clean_query(c("What is 2+2? A: 4"), CHATML) == ("What is 2+2?", "self_answered")
    # the question in quotes (Qwen2.5-Coder-1.5B, the full recipe's run)
    assert clean_query(c('Q: "What is the main food in Japan?" A: "The main food in Japan is sushi."'), CHATML) == (
        '"What is the main food in Japan?"', "self_answered")
    assert clean_query(c("Solve x + 1 = 2.\nSolution: x = 1"), CHATML) == ("Solve x + 1 = 2.", "self_answered")
    assert clean_query(c("Explain recursion. The correct answer is: a function calling itself"), CHATML)[1] == \
        "self_answered"


def test_queries_that_only_mention_an_answer_stay_ok():
    for query in ("I think the answer is 5, but my teacher says 6. Who is right?",
                  "Write a function that returns the answer to a yes/no question.",
                  "Given A: a list and B: a dict, merge them.",
                  "What is the answer to life, the universe and everything?"):
        assert clean_query(c(query), CHATML) == (query, "ok"), query


def test_identity_names_come_from_the_system_turn():
    from distilabel_magpie.generation.cleaning import identity_names, system_text

    assert identity_names(QWEN_SYSTEM) == ("Qwen", "Alibaba Cloud")
    assert identity_names("You are a helpful AI assistant named SmolLM, trained by Hugging Face") == (
        "SmolLM", "Hugging Face")
    assert identity_names("You are a helpful assistant. Be brief.") == ()
    assert system_text(QWEN25, None) == QWEN_SYSTEM
    assert system_text(QWEN25.with_options(default_system=False), None) is None
    assert system_text(QWEN25, "You are a tutor.") == "You are a tutor."


def test_queries_naming_the_model_from_the_system_turn_are_identity_echo():
    assert clean_query(c("Hi Qwen! Can you help me write a sorting function?"), CHATML, QWEN_SYSTEM) == (
        "Hi Qwen! Can you help me write a sorting function?", "identity_echo")
    assert clean_query(c("What services does alibaba cloud offer?"), CHATML, QWEN_SYSTEM)[1] == "identity_echo"
    # the same text under a system turn that names no one, or a word that only contains the name
    assert clean_query(c("Hi Qwen! Can you help me?"), CHATML, "You are a tutor.")[1] == "ok"
    assert clean_query(c("How does cloud computing work?"), CHATML, QWEN_SYSTEM)[1] == "ok"
    assert clean_query(c("Explain Qwenlike tokenizers."), CHATML, QWEN_SYSTEM)[1] == "ok"


def test_a_quiz_with_lettered_options_is_not_an_answer():
    quiz = 'Q: "The quick brown fox jumps over the lazy dog" is an example of which type of poem?\nA: Haiku\nB: Sonnet'
    assert clean_query(c(quiz), CHATML) == (quiz[3:], "ok")
    keyed = "Which planet is largest?\nA: Mars\nB: Jupiter\nThe answer is: B"
    assert clean_query(c(keyed), CHATML) == ("Which planet is largest?\nA: Mars\nB: Jupiter", "self_answered")


def test_the_models_name_as_a_speaker_label_is_removed_like_user():
    """Qwen2.5-Coder-1.5B under its default system turn often opens a query with "Qwen:"."""
    assert clean_query(c("Qwen: Where did the Civil War end?"), QWEN25, QWEN_SYSTEM) == (
        "Where did the Civil War end?", "ok")
    assert clean_query(c("Qwen:\n"), QWEN25, QWEN_SYSTEM) == ("", "empty")
    assert clean_query(c("Qwen: Qwen, what can you do?"), QWEN25, QWEN_SYSTEM)[1] == "identity_echo"
    assert clean_query(c("Qwen: Where did the Civil War end?"), QWEN25, "You are a tutor.")[1] == "ok"
