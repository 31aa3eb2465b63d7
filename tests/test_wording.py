"""The wording of the recommendation side: every sentence in English and French, with the same blanks."""

from __future__ import annotations

import string

import pytest

from sovstack.recommend import wording

GROUPS = ["REPORT", "WEB", "ALLOWED", "REASONS", "PROOF"]


def _leaves(group, path=()):
    for key, value in group.items():
        if set(value) == set(wording.LANGS):
            yield ".".join(path + (key,)), value
        else:
            yield from _leaves(value, path + (key,))


def _blanks(text: str) -> list[str]:
    return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


SENTENCES = [(f"{g}.{key}", value) for g in GROUPS for key, value in _leaves(getattr(wording, g))]


@pytest.mark.parametrize("key,sentence", SENTENCES, ids=[s[0] for s in SENTENCES])
def test_every_sentence_has_both_languages_with_the_same_blanks(key, sentence):
    assert sentence["en"].strip() and sentence["fr"].strip()
    assert _blanks(sentence["en"]) == _blanks(sentence["fr"])

