"""render: the policy as a document for lawyers, and the coverage of the published text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from policy_engine import api

from policy_engine.render import document as render
from policy_engine.render.writers import TemplateError
from policy_engine.cli.app import cli

from paths import OPEN_E, REPO as ROOT

POLICY = '''# header note, above the first section
policy "Shop Privacy Policy"
  controller "Shop Ltd., 1 Main Street"
  contact "privacy@shop.example"
  updated 2024-01-31

data email "E-mail address"
data name "Name"
source checkout "Buying: the checkout form"
source forum "Forum"
purpose orders "Process your orders"
purpose marketing "Marketing"
purpose marketing.newsletter "Newsletter"
recipient courier "Courier companies"
fact opt_in "Ticked the newsletter box"
fact consent_withdrawn "Withdrew consent"

# ---- rules -------------------------------------------------------------------------

section "Using your data":
  # "We use your e-mail address and name to process your orders."
  allow use of email, name from checkout for orders basis contract
  # "We send the newsletter only if you ticked the box,
  #  and never to forum members."
  allow use of email from checkout for marketing if opt_in and not consent_withdrawn basis consent
  deny use of email from forum for marketing
  expect allow: use of email from checkout for marketing given opt_in
  expect conditional: use of email from checkout for marketing requires opt_in and not consent_withdrawn
  never use of email from forum for marketing
  # not encodable (a wish, no processing): "We hope you enjoy shopping with us."

section "Sharing":
  # "We give your name to the courier."
  allow share of name with courier basis contract
  right erasure via "privacy@shop.example"
  retention of all data: "for six years after your last order"
  security "encryption"

section "Not in the text":
  allow collect of email from checkout
'''

TEXT = '''Shop Privacy Policy
The controller is Shop Ltd., 1 Main Street.
Using your data
We use your e-mail address and name to process your orders. We send the newsletter only if you ticked the box, and never to forum members.
We hope you enjoy shopping with us.
We also read your e-mail address and name for other purposes, which this policy does not cite.
Sharing
- We give your name to the courier.
- We keep everything for six years after your last order (i.e. the retention period).
Cookies
We use no cookies.
'''


@pytest.fixture(scope="module")
def shop():
    result = api.check_text(POLICY, "shop.policy")
    assert result.ok, [d.render() for d in result.diagnostics]
    return result.policy, result.source


def test_rules_read_as_sentences(shop):
    md = render.render(*shop, "markdown")
    assert md.startswith("# Shop Privacy Policy\n")
    assert "We **may** use E-mail address (`email`) and Name (`name`) collected from Buying (`checkout`) " \
           "for Process your orders (`orders`). *Legal basis: a contract with the person (GDPR Art. 6(1)(b)).*" in md
    assert "**only if** “Ticked the newsletter box” (`opt_in`) **and** **not** “Withdrew consent” " \
           "(`consent_withdrawn`)" in md
    assert "We **never** use E-mail address (`email`) collected from Forum (`forum`) for Marketing" in md
    assert "We **may** share Name (`name`) with Courier companies (`courier`)" in md
    assert "You have the right of **erasure**; use it through “privacy@shop.example”." in md
    assert "We keep all personal data: “for six years after your last order”." in md
    assert "Security measures: “encryption”." in md


def test_tests_and_promises_read_with_labels_and_plain_words(shop):
    md = render.render(*shop, "markdown")
    assert "**Test:** use of E-mail address from Buying for Marketing, when “Ticked the newsletter box” holds " \
           "(and no other condition): the answer must be **allowed**." in md
    assert "**Test:** use of E-mail address from Buying for Marketing, not knowing which of the conditions hold: " \
           "the answer must be **allowed only if “Ticked the newsletter box” and not “Withdrew consent”**." \
        in md
    assert "**We promise** (checked for every possible case): we never use E-mail address collected from Forum " \
           "for Marketing." in md
    assert "3 sections, 5 rules (4 that allow, 1 that forbids), 2 tests, 1 promise, 1 right." in md
    tests = [line for line in md.splitlines() if line.startswith("- **Test:**")]
    assert len(tests) == 2 and not any("`" in t for t in tests)  # labels, never raw ids
    for jargon in ("facts unknown", "fail closed", "fail-closed", "given no facts", "conditional"):
        assert jargon not in md


def test_notes_are_comment_paragraphs_in_order(shop):
    md = render.render(*shop, "markdown")
    # continuation lines (`#  more`) join their paragraph; rulers are not notes
    assert '> “We send the newsletter only if you ticked the box, and never to forum members.”' in md
    assert "> **Not encodable** *(a wish, no processing):* “We hope you enjoy shopping with us.”" in md
    assert "---- rules" not in md
    sharing = md[md.index("### Sharing"):]
    assert sharing.index("We give your name") < sharing.index("We **may** share")
    assert "(line 22)" in md  # every statement names its line


def test_a_note_that_goes_on_as_a_list_keeps_one_quote_per_item():
    text = ('data email "E-mail"\nsection "S":\n'
            '  # not encodable (principles): - "We are fair." - "We are lawful." (see "Security") - "We are open."\n'
            '  allow use of email\n')
    result = api.check_text(text, "list.policy")
    md = render.render(result.policy, result.source, "markdown")
    assert "> **Not encodable** *(principles):*\n>\n> - “We are fair.”\n> - “We are lawful.” " \
           "*(see* “Security” *)*\n> - “We are open.”" in md
    page = render.render(result.policy, result.source, "html")
    assert '<li><q class="published">We are lawful.</q> (see <q class="published">Security</q>)</li>' in page


def test_markdown_escapes_what_would_be_markup():
    result = api.check_text('data a_b "Star *and* pipe | <b>"\nsection "S":\n  allow use of a_b\n')
    md = render.render(result.policy, result.source, "markdown")
    assert r"Star \*and\* pipe \| \<b\>" in md


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in {"meta", "br", "link"}:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def test_html_is_a_whole_balanced_document(shop):
    page = render.render(*shop, "html", TEXT, "shop.txt")
    assert page.startswith("<!DOCTYPE html>") and "<title>Shop Privacy Policy</title>" in page
    parser = _Collect()
    parser.feed(page)
    assert not parser.errors and not parser.stack
    assert {"h1", "h2", "h3", "aside", "q", "nav", "ul", "table", "pre"} <= set(parser.tags)
    assert '<tr class="uncited">' in page and '<tr class="encoded">' in page


def test_html_has_contents_whose_links_all_land(shop):
    page = render.render(*shop, "html", TEXT, "shop.txt")
    nav = page[page.index('<nav class="toc"'):page.index("</nav>")]
    targets = re.findall(r'href="#([^"]+)"', nav)
    assert "section-using-your-data" in targets and "coverage" in targets and "source" in targets
    ids = set(re.findall(r' id="([^"]+)"', page))
    assert set(targets) <= ids
    # every line number links into the source view, which has every line of the policy
    lines = set(re.findall(r'href="#(L\d+)"', page))
    assert "L22" in lines and lines <= ids
    assert page.count('<span class="src" id="L') == len(POLICY.splitlines())


def test_html_styles_quotes_of_the_published_text_apart_from_the_encoders_words(shop):
    page = render.render(*shop, "html")
    assert '<q class="published">We give your name to the courier.</q>' in page
    note = page[page.index('<aside class="note not-encodable">'):]
    note = note[:note.index("</aside>")]
    assert "Not encodable, line" in note
    assert "(a wish, no processing): <q class=\"published\">We hope you enjoy shopping with us.</q>" in note
    assert "@media print" in page and "q.published" in page


def test_rules_alike_but_for_their_recipients_are_one_sentence():
    source, policy = api.parse_policy(OPEN_E)
    md = render.render(policy, source, "markdown")
    sentence = [line for line in md.splitlines() if "namely" in line]
    assert sentence == ["- We **may** share E-mail address (`email`), Name (`name`), Address (`postal_address`) and "
                        "Phone number (`phone`) with Third-party companies providing services on our behalf "
                        "(`service_provider`), namely Order fulfillment, Payment processing, Customer service and "
                        "E-mail delivery. *Legal basis: a contract with the person (GDPR Art. 6(1)(b)).* "
                        "(lines 307, 311, 315 and 319)"]
    assert "with Order fulfillment (`service_provider.order_fulfillment`)" not in md


def test_a_firm_can_bring_its_own_template(shop, tmp_path):
    own = tmp_path / "firm.html.j2"
    own.write_text('{% extends "document.html.j2" %}{% block header %}<header>Firm &amp; Partners LLP</header>'
                   '{% endblock %}', encoding="utf-8")
    page = render.render(*shop, "html", template=str(own))
    assert "<header>Firm &amp; Partners LLP</header>" in page and '<nav class="toc"' in page
    bare = tmp_path / "bare.html.j2"
    bare.write_text("<h1>{{ doc.title }}</h1>{% for t, a, c in doc.contents %}<p>{{ t }}</p>{% endfor %}",
                    encoding="utf-8")
    assert render.render(*shop, "html", template=str(bare)).startswith(
        "<h1>Shop Privacy Policy</h1><p>The policy, section by section</p>")


def test_a_broken_template_is_named_with_its_line(shop, tmp_path):
    broken = tmp_path / "broken.html.j2"
    broken.write_text("<h1>{{ doc.title }}</h1>\n{% for x in %}\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"broken\.html\.j2:2: template syntax error"):
        render.render(*shop, "html", template=str(broken))
    unknown = tmp_path / "unknown.html.j2"
    unknown.write_text("{{ doc.no_such_thing }}", encoding="utf-8")
    with pytest.raises(TemplateError, match="does not have"):
        render.render(*shop, "html", template=str(unknown))


# ---- issue 9's render bugs, each with its regression test ----------------------------------------


def test_the_controllers_name_alone_does_not_cite_a_sentence():
    result = api.check_text('policy "P"\n  controller "ACME Inc."\ndata email "E-mail"\n'
                            'section "S":\n  allow use of email\n', "acme.policy")
    text = "ACME Inc. takes your privacy very seriously.\nThe controller is ACME Inc.\n"
    cov = render.coverage(result.policy, result.source, text)
    status = {s.text: s.status for s in cov.sentences}
    assert status == {"ACME Inc. takes your privacy very seriously.": "uncited",
                      "The controller is ACME Inc.": "encoded"}


def test_the_document_shows_no_literal_backticks(shop):
    page = render.render(*shop, "html")
    assert "<code>policy-engine test</code>" in page
    assert "`" not in page
    assert "`policy-engine test`" in render.render(*shop, "markdown")
    assert "\\`" not in render.render(*shop, "markdown")


def test_cli_render_computes_coverage_once(monkeypatch, tmp_path):
    from policy_engine.render import coverage as coverage_module

    calls = []
    real = coverage_module.coverage

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(coverage_module, "coverage", counting)
    monkeypatch.setattr(render, "coverage", counting)  # the document module's own name for it
    result = CliRunner().invoke(cli, ["render", str(OPEN_E), "--source-text",
                                      str(ROOT / "policies" / "open_e_privacy_policy.txt"),
                                      "-o", str(tmp_path / "out.md")])
    assert result.exit_code == 0, result.output
    assert len(calls) == 1


def test_unknown_format_is_refused(shop):
    with pytest.raises(ValueError):
        render.render(*shop, "pdf")


# ---- coverage --------------------------------------------------------------------------------


def test_sentences_are_split_with_care():
    assert render.split_sentences("One here. Two (i.e. 2) there. e.g. three.") == \
        ["One here.", "Two (i.e. 2) there. e.g. three."]
    assert render.split_sentences("Customer service (i.e. Smart Receptionist, Live Chat etc.) for you.") == \
        ["Customer service (i.e. Smart Receptionist, Live Chat etc.) for you."]


def test_headings_come_from_the_section_titles():
    sentences, headings = render.published_sentences(
        "Intro line.\nWebsite\nWhat we collect\n- E-mail address\nForum\nWhat we collect\nNames.\n",
        ["Website / What we collect", "Forum / What we collect"])
    assert headings == ["Website", "Website / What we collect", "Forum", "Forum / What we collect"]
    assert [(s.heading, s.text) for s in sentences] == [
        (None, "Intro line."), ("Website / What we collect", "E-mail address"), ("Forum / What we collect", "Names.")]


def test_coverage_classifies_every_sentence(shop):
    cov = render.coverage(*shop, TEXT)
    status = {s.text: s.status for s in cov.sentences}
    assert status["We use your e-mail address and name to process your orders."] == "encoded"
    assert status["We send the newsletter only if you ticked the box, and never to forum members."] == "encoded"
    assert status["We hope you enjoy shopping with us."] == "noted"
    # shares six words with a note (`your e mail address and name`), but no run of eight: not cited
    assert status["We also read your e-mail address and name for other purposes, which this policy does not cite."] \
        == "uncited"
    assert status["We give your name to the courier."] == "encoded"
    # cited through a statement's text (the retention period), not a comment
    assert status["We keep everything for six years after your last order (i.e. the retention period)."] == "encoded"
    # a heading no section cites is not a heading: its lines are sentences no one cites
    assert status["Cookies"] == "uncited" and status["We use no cookies."] == "uncited"
    # the opening lines are cited by the header: comments above the first section and metadata texts
    assert status["Shop Privacy Policy"] == "uncited"
    assert status["The controller is Shop Ltd., 1 Main Street."] == "encoded"
    assert cov.unknown_sections == ["Not in the text"]
    assert cov.count("encoded") == 5 and cov.count("noted") == 1 and cov.count("uncited") == 4
    assert cov.figure == pytest.approx(5 / 10)
    assert cov.summary() == "5 of 10 sentences encoded (50%); 1 noted as not encodable; 4 not cited"


def test_coverage_cites_the_lines_of_the_statements_below_a_note(shop):
    cov = render.coverage(*shop, TEXT)
    by_text = {s.text: s for s in cov.sentences}
    assert by_text["We use your e-mail address and name to process your orders."].cited_by == [22]
    # every statement between the note and the next one
    assert by_text["We give your name to the courier."].cited_by == [34, 35, 36, 37]


def test_a_quote_counts_only_in_the_section_citing_its_heading(shop):
    moved = TEXT.replace("Sharing\n", "Elsewhere\n")
    cov = render.coverage(*shop, moved)
    assert {s.text: s.status for s in cov.sentences}["We give your name to the courier."] == "uncited"


def test_open_e_every_sentence_is_encoded_or_noted():
    """The Open-E policy's own claim: every statement of the text is encoded or noted as not encodable."""
    source, policy = api.parse_policy(OPEN_E)
    text = (ROOT / "policies" / "open_e_privacy_policy.txt").read_text(encoding="utf-8")
    cov = render.coverage(policy, source, text)
    assert [s.text for s in cov.sentences if s.status == "uncited"] == []
    assert cov.unknown_sections == []
    assert all(cited for _, cited in cov.headings)
    assert cov.figure >= 0.75


# ---- the command ------------------------------------------------------------------------------


def test_cli_render_writes_the_document_and_reports_coverage(tmp_path):
    out = tmp_path / "open_e.html"
    result = CliRunner().invoke(cli, ["render", str(OPEN_E), "--format", "html",
                                      "--source-text", str(ROOT / "policies" / "open_e_privacy_policy.txt"),
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert result.output.startswith("coverage: ") and "sentences encoded" in result.output


def test_cli_render_refuses_a_policy_that_does_not_check(tmp_path):
    bad = tmp_path / "bad.policy"
    bad.write_text('section "S":\n  allow use of nothing_declared\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["render", str(bad)])
    assert result.exit_code == 4  # EXIT_INVALID: the policy does not check
    assert "check.unknown_term" in result.output


def test_cli_render_missing_source_text_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["render", str(OPEN_E),
                                      "--source-text", str(tmp_path / "missing.txt")])
    assert result.exit_code == 2


def test_cli_render_with_a_template(tmp_path):
    own = tmp_path / "firm.html.j2"
    own.write_text('{% extends "document.html.j2" %}{% block footer %}<footer>Reviewed</footer>{% endblock %}',
                   encoding="utf-8")
    out = tmp_path / "doc.html"
    policy = str(OPEN_E)
    result = CliRunner().invoke(cli, ["render", policy, "--format", "html", "--template", str(own), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "<footer>Reviewed</footer>" in out.read_text(encoding="utf-8")
    markdown = CliRunner().invoke(cli, ["render", policy, "--template", str(own)])
    assert markdown.exit_code == 2 and "--template is an HTML template: add --format html" in markdown.output
    broken = tmp_path / "broken.html.j2"
    broken.write_text("{% if %}", encoding="utf-8")
    failed = CliRunner().invoke(cli, ["render", policy, "--format", "html", "--template", str(broken)])
    assert failed.exit_code == 2 and "broken.html.j2:1: template syntax error" in failed.output
    missing = CliRunner().invoke(cli, ["render", policy, "--format", "html", "--template", str(tmp_path / "no.j2")])
    assert missing.exit_code == 2 and "cannot read the template" in missing.output


@pytest.mark.parametrize("name", ["open_e.policy", "github.policy"])
@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_every_shipped_policy_renders(name: str, fmt: str):
    """Each statement the policies use reaches the document: a sub-action once ended `render`
    of the GitHub policy in an internal error."""
    result = CliRunner().invoke(cli, ["render", str(ROOT / "policies" / name), "--format", fmt])
    assert result.exit_code == 0, result.output
    if name == "github.policy":
        assert "share, as " in result.output and "(`share.targeted_advertising`)" in result.output.replace(
            "<code>", "`").replace("</code>", "`")
