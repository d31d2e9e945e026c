"""The Pygments lexer and the TextMate grammar for the policy language.

Both are checked against grammar/policy.lark: every keyword of the grammar is highlighted as a
keyword by the lexer and named by the TextMate grammar, so a keyword added to the language
cannot silently go unhighlighted. The lexer must never produce an error token on a policy.
"""

from __future__ import annotations

import json
import re

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Literal, Name, Operator, String, Text

from policy_engine.language.highlight import PolicyLexer, grammar_keywords

from paths import OPEN_E as OPEN_E_PATH, REPO

OPEN_E = OPEN_E_PATH.read_text(encoding="utf-8")
TM_GRAMMAR = REPO / "editors" / "policy.tmLanguage.json"

SAMPLE = '''policy "Shop"
  controller "Shop Ltd."
  contact "privacy@example.com"
  updated 2024-01-31
data email "E-mail address"
source contact "Contacting us"
purpose marketing "Marketing"
fact newsletter_form "Subscribed"
section "Marketing":
  # "We may use your e-mail address ..."
  allow use of email
    from contact, purchase
    for marketing
    if newsletter_form or not (a and b)
    basis consent
  deny share of all data with public
  allow share of email to service_provider basis contract
  expect conditional: use of email from contact for marketing
    requires newsletter_form
  expect deny: use email for marketing given nothing
  never use of email from forum for marketing
  every share with service_provider has basis contract
  no use for marketing without consent
  no share with advertising_partner except cookie.analytics, cookie
  no use of email for marketing unless newsletter_form or notification_settings
  right erasure via "privacy@example.com", "the account"
  retention of all data: "as long as you have an account"
  security "encryption", "passwords"
action share.sell "Selling personal information"
fact minor.under_13 "Under 13" implies minor.under_16
section "Real policies":
  deny share.sell of all data
  expect deny: share.sell of email with partner given nothing
  never share.sell
  right delete if resident.us via "privacy@example.com"
    within 45 days extended by 45 days
    at most 2 per 12 months
    except retain for legal_obligations
  scope "the services that display it"
  excludes "previews"
  processor "for organisation accounts" if org_account
  dpo "dpo@example.com"
  certification "EU-U.S. Data Privacy Framework"
  authority "the Federal Trade Commission"
  effective 2024-02-01
  version 2022-08-01 "the previous statement"
  controlling language "English"
  allow retain of account for legal within 30 days after account_closed if a or account_closed less than 3 weeks ago
  deny use of email for marketing after 2 years
  expect allow for 80 days: retain of ip collected 10 days ago for safety given account_closed 2 days ago
  changes notice 4 weeks via "e-mail"
  audience resident.eea or resident.uk
  right know via "a" within 1 day at most 1 per 1 year
  right access via "a" within 2 months at most 3 per 1 week
  right correct via "a" within 1 month at most 2 per 2 years
region region.us "United States"
safeguard standard_contractual_clauses "Standard contractual clauses"
section "Transfers":
  allow share of email with service_provider in region.us under standard_contractual_clauses
  expect deny: share of email with service_provider in region.us given nothing
  no share in region.us except under standard_contractual_clauses
'''


def tokens(text: str) -> list[tuple[object, str]]:
    return [(t, v) for t, v in PolicyLexer().get_tokens(text) if v.strip()]


def token_of(text: str, word: str, nth: int = 0) -> object:
    found = [t for t, v in tokens(text) if v == word]
    assert len(found) > nth, f"no token {word!r} (#{nth})"
    return found[nth]


def test_registered_under_the_name_policy_and_the_file_suffix():
    assert isinstance(get_lexer_by_name("policy"), PolicyLexer)
    assert isinstance(get_lexer_for_filename("open_e.policy"), PolicyLexer)


@pytest.mark.parametrize("text", [OPEN_E, SAMPLE], ids=["open_e", "sample"])
def test_no_error_tokens_and_the_text_round_trips(text):
    toks = list(PolicyLexer().get_tokens(text))
    assert "".join(v for _, v in toks) == text
    assert not [v for t, v in toks if t in Error]
    assert not [v for t, v in toks if t is Text and v.strip()], "every visible character gets a real token type"


def test_statement_keywords():
    assert token_of(SAMPLE, "policy") in Keyword
    assert token_of(SAMPLE, "section") in Keyword
    assert token_of(SAMPLE, "data") in Keyword.Declaration
    assert token_of(SAMPLE, "allow") in Keyword
    assert token_of(SAMPLE, "never") in Keyword
    assert token_of(SAMPLE, "expect") in Keyword
    assert token_of(SAMPLE, "right") in Keyword
    assert token_of(SAMPLE, "retention") in Keyword
    assert token_of(SAMPLE, "security") in Keyword


def test_keywords_are_contextual_like_the_grammar():
    # `contact` is a header keyword at the start of a line, and a source id after `from`
    assert token_of(SAMPLE, "contact", 0) in Keyword
    assert token_of(SAMPLE, "contact", 1) is Name.Class  # its declaration
    assert token_of(SAMPLE, "contact", 2) is Name  # `from contact`
    text = 'section "S":\n  allow use of data.x for for_all\n'
    assert token_of(text, "data.x") is Name


def test_names_conditions_and_literals():
    assert token_of(SAMPLE, "email", 1) is Name
    assert token_of(SAMPLE, "newsletter_form", 1) is Name.Variable  # a fact in a condition
    assert token_of(SAMPLE, "or") in Operator.Word
    assert token_of(SAMPLE, "not") in Operator.Word
    assert token_of(SAMPLE, "all data") is Name.Constant
    assert token_of(SAMPLE, "nothing") is Name.Constant
    assert token_of(SAMPLE, "consent") is Name.Builtin  # a legal basis
    assert token_of(SAMPLE, "2024-01-31") in Literal
    assert token_of(SAMPLE, "use") is Name.Builtin
    assert any(t in Comment for t, _ in tokens(SAMPLE))
    assert any(t in String for t, _ in tokens(SAMPLE))


def test_a_term_list_may_run_over_lines():
    text = 'section "S":\n  allow use of email\n    from contact,\n      purchase\n    for marketing\n'
    assert token_of(text, "purchase") is Name
    assert token_of(text, "for") in Keyword


def test_every_grammar_keyword_is_highlighted_as_a_keyword_somewhere():
    words = set(grammar_keywords())
    assert {"allow", "section", "expect", "never", "given"} <= words
    seen: dict[str, set] = {}
    for t, v in tokens(SAMPLE) + tokens(OPEN_E):
        for w in v.split():
            seen.setdefault(w, set()).add(t)
    not_keyword = []
    for w in sorted(words):
        types = seen.get(w, set())
        if not any(t in Keyword or t in Operator or t in Name.Builtin or t in Name.Constant for t in types):
            not_keyword.append(w)
    assert not not_keyword, f"grammar keywords missing from the lexer's sample or not highlighted: {not_keyword}"


# ---- the TextMate grammar ----------------------------------------------------------------------


def tm_grammar() -> dict:
    return json.loads(TM_GRAMMAR.read_text(encoding="utf-8"))


def all_patterns(node) -> list[dict]:
    out = []
    if isinstance(node, dict):
        if "match" in node or "begin" in node:
            out.append(node)
        for v in node.values():
            out += all_patterns(v)
    elif isinstance(node, list):
        for v in node:
            out += all_patterns(v)
    return out


def test_textmate_grammar_is_valid():
    g = tm_grammar()
    assert g["scopeName"] == "source.policy"
    assert g["fileTypes"] == ["policy"]
    for p in all_patterns(g):
        for key in ("match", "begin", "end"):
            if key in p:
                re.compile(p[key])  # the patterns use the subset Python and Oniguruma share
    for inc in re.findall(r'"include": "#([\w-]+)"', TM_GRAMMAR.read_text()):
        assert inc in g["repository"], f"include of unknown rule #{inc}"


def test_textmate_grammar_names_every_grammar_keyword():
    text = " ".join(p.get("match", "") for p in all_patterns(tm_grammar()))
    missing = [w for w in grammar_keywords() if not re.search(r"(?<![\w])" + re.escape(w) + r"(?![\w])", text)]
    assert not missing, f"keywords missing from editors/policy.tmLanguage.json: {missing}"


def scopes(line: str) -> dict[str, str]:
    """A small TextMate matcher over the top-level patterns: word -> scope."""
    g = tm_grammar()
    flat = []
    for p in g["patterns"]:
        rule = g["repository"][p["include"][1:]]
        flat += [rule] if ("match" in rule or "begin" in rule) else rule["patterns"]
    out: dict[str, str] = {}
    pos = 0
    while pos < len(line):
        best = None
        for p in flat:
            m = re.compile(p.get("match") or p["begin"]).search(line, pos)
            if m and m.end() > m.start() and (best is None or m.start() < best[0].start()):
                best = (m, p)
        if best is None:
            break
        m, p = best
        if "begin" in p:
            end = re.compile(p["end"]).search(line, m.end())
            stop = end.end() if end else len(line)
            out[line[m.start():stop]] = p["name"]
            pos = stop
            continue
        if "captures" in p:
            for i, cap in p["captures"].items():
                if m.group(int(i)):
                    out[m.group(int(i)).strip()] = cap["name"]
        else:
            out[m.group(0)] = p["name"]
        pos = m.end()
    return out


def test_textmate_scopes_on_typical_lines():
    s = scopes("  allow use of email from contact for marketing if newsletter_form basis consent")
    assert s["allow"] == "keyword.other.effect.allow.policy"
    assert s["use"] == "support.function.action.policy"
    assert s["from"] == "keyword.other.clause.policy"
    assert s["contact"] == "variable.other.term.policy"
    assert s["consent"] == "constant.language.basis.policy"
    s = scopes('source contact "Contacting us" # note')
    assert s["source"] == "storage.type.term-kind.policy"
    assert s["contact"] == "entity.name.type.term.policy"
    assert s['"Contacting us"'] == "string.quoted.double.policy"
    assert s["# note"] == "comment.line.number-sign.policy"
    s = scopes("  contact \"privacy@open-e.com\"")
    assert s["contact"] == "keyword.other.header.policy"
    s = scopes("  never use of email from forum for marketing")
    assert s["never"] == "keyword.other.invariant.policy"
