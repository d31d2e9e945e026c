"""The semantic diff of policies with sub-actions puts them in words (a KeyError once ended diff on
the GitHub policy with an internal error)."""

from __future__ import annotations

from policy_engine import api
from policy_engine.engine import words
from policy_engine.guard.diff import semantic_diff

BASE = '''action share.sell "Selling personal information"
data email "E-mail"
recipient partner "Partner"
fact consent "Consent"

section "S":
  allow share of email with partner if consent basis consent
'''


def test_a_sub_action_reads_as_its_base_action_naming_it() -> None:
    assert words.verb("share") == "shared"
    assert words.verb("share.sell") == "shared (as share.sell)"


def test_diff_of_a_widened_sub_action_is_told_in_words() -> None:
    old = api.loads(BASE, "old.policy")
    new = api.loads(BASE.replace(" if consent", ""), "new.policy")
    result = semantic_diff(old, new)
    assert result.widened and not result.narrowed
    sentences = [g.sentence for g in result.groups]
    # the only data and the only recipient are named as "any" (every value the dimension can take)
    assert sentences == ["any data may now be shared without consent (before: only if consent)",
                         "any data may now be shared (as share.sell) without consent (before: only if consent)"]
