"""Tests for the course readers: OpenStax CNXML books and the Markdown demo course.

Each behaviour gets a small fixture written to ``tmp_path``; one test reads the real OpenStax
book from the shared data folder when it is present.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import polars as pl
import pytest

from assay.errors import AssayError
from assay.ingest.cnxml import (
    CNXML_KINDS,
    UNIT_SCHEMA,
    modules_outside_collections,
    read_cnxml_book,
)
from assay.ingest.markdown import MARKDOWN_KINDS, read_markdown_course

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_BOOK = REPO_ROOT.parent / "shared" / "data" / "course_material" / "openstax-principles-economics"

# ---------------------------------------------------------------------------------------------
# CNXML fixtures
# ---------------------------------------------------------------------------------------------

COLLECTION = """<col:collection xmlns:col="http://cnx.rice.edu/collxml" xmlns:md="http://cnx.rice.edu/mdml">
  <col:metadata><md:title>Tiny Book</md:title><md:slug>{slug}</md:slug></col:metadata>
  <col:content>
{body}
  </col:content>
</col:collection>
"""


def module_xml(module_id: str, title: str, content: str, *, abstract: str = "", doc_class: str = "", glossary: str = "") -> str:
    """A CNXML module document with the given content (a string of CNXML elements)."""
    cls = f' class="{doc_class}"' if doc_class else ""
    return f"""<document xmlns="http://cnx.rice.edu/cnxml" xmlns:m="http://www.w3.org/1998/Math/MathML"{cls}>
<title>{title}</title>
<metadata xmlns:md="http://cnx.rice.edu/mdml">
  <md:content-id>{module_id}</md:content-id>
  <md:title>{title}</md:title>
  <md:abstract>{abstract}</md:abstract>
</metadata>
<content>
{content}
</content>
{glossary}
</document>
"""


def chapter(title: str, *modules: str) -> str:
    refs = "\n".join(f'        <col:module document="{m}"/>' for m in modules)
    return f"""    <col:subcollection>
      <md:title>{title}</md:title>
      <col:content>
{refs}
      </col:content>
    </col:subcollection>"""


def make_book(root: Path, modules: dict[str, str], collections: dict[str, str]) -> Path:
    """Write a book folder: ``collections`` maps slug to collection body, ``modules`` id to XML."""
    book = root / "book"
    (book / "collections").mkdir(parents=True)
    for slug, body in collections.items():
        (book / "collections" / f"{slug}.collection.xml").write_text(COLLECTION.format(slug=slug, body=body), encoding="utf-8")
    for module_id, xml in modules.items():
        (book / "modules" / module_id).mkdir(parents=True)
        (book / "modules" / module_id / "index.cnxml").write_text(xml, encoding="utf-8")
    return book


INTRO = module_xml(
    "m00010",
    "Introduction",
    '<note id="n-obj" class="economics chapter-objectives"><title>Introduction</title>'
    '<para id="p-in">In this chapter, you will learn about:</para>'
    '<list id="l-obj"><item>Scarcity</item><item>Choice</item></list></note>',
    doc_class="introduction",
)

SECTION = module_xml(
    "m00011",
    "What Is Scarcity?",
    """<para id="p1">Economics   is the study
    of <term>scarcity</term>.</para>
<para id="p2">Income is\u00a0limited<footnote id="fn1">A footnote.</footnote> for most people.</para>
<note id="n1" class="economics clearup"><title>Clear It Up</title>
  <para id="p-in-note">A para inside a note.</para>
  <figure id="fig-in-note"><media id="md1" alt="ignored alt"><image src="x.jpg"/></media>
    <caption>Caption inside a note.</caption></figure>
</note>
<figure id="fig1"><title>Scarce Things</title><media id="md2" alt="x"><image src="y.jpg"/></media>
  <caption>Things are scarce.</caption></figure>
<figure id="fig2"><title>Only A Title</title><media id="md3" alt="x"><image src="z.jpg"/></media></figure>
<list id="list1"><item>First item</item><item>Second <emphasis>item</emphasis></item></list>
<table id="tab1"><title>Prices</title><tgroup cols="2"><thead><row><entry>Good</entry><entry>Price</entry></row></thead>
  <tbody><row><entry>Bread</entry><entry>$2</entry></row></tbody></tgroup></table>
<equation id="eq1"><m:math><m:mrow><m:mi>P</m:mi><m:mo>=</m:mo><m:mn>2</m:mn></m:mrow></m:math></equation>
<section id="s1"><title>A subsection title</title>
  <para id="p3">Paragraph in a subsection with <m:math><m:mi>x</m:mi><m:mo>+</m:mo><m:mn>1</m:mn></m:math> inline.</para>
</section>
<section id="sum" class="summary"><title>2.1 What Is Scarcity?</title><para id="p-sum">Scarcity is everywhere.</para></section>
<section id="rq" class="review-questions"><title>Review Questions</title>
  <exercise id="ex1"><problem id="pr1"><para id="pp1">What is scarcity?</para></problem>
    <solution id="so1"><para id="sp1">Limited resources.</para></solution></exercise>
  <exercise id="ex2"><title>Choosing</title><problem id="pr2"><para id="pp2">Why choose?</para></problem></exercise>
</section>
<section id="ref" class="References"><title>References</title><para id="r1">Smith, Adam. 1776.</para></section>""",
    abstract='<para id="a1">By the end of this section, you will be able to:</para><list><item>Define scarcity</item><item>Explain choice</item></list>',
    glossary='<glossary><definition id="g1"><term>scarcity</term><meaning id="gm1">wants exceed resources</meaning></definition></glossary>',
)

APPENDIX = module_xml("m00090", "Math Refresher", '<para id="ap1">Slopes.</para>', doc_class="appendix")
PREFACE = module_xml("m00001", "Preface", '<para id="pf1">Welcome.</para>', doc_class="preface")


@pytest.fixture()
def good_book(tmp_path: Path) -> Path:
    body = "\n".join(
        [
            '    <col:module document="m00001"/>',
            chapter("Choice in a World of Scarcity", "m00010", "m00011"),
            '    <col:module document="m00090"/>',
        ]
    )
    return make_book(tmp_path, {"m00001": PREFACE, "m00010": INTRO, "m00011": SECTION, "m00090": APPENDIX}, {"tiny": body})


def by_id(frame: pl.DataFrame) -> dict[str, dict[str, object]]:
    return {row["unit_id"]: row for row in frame.iter_rows(named=True)}


def test_cnxml_schema_and_good_units(good_book: Path) -> None:
    frame, files = read_cnxml_book(good_book, ["tiny"])
    assert frame.schema == pl.Schema(UNIT_SCHEMA)
    assert frame["_ingest_error"].null_count() == frame.height, frame.filter(pl.col("_ingest_error").is_not_null())
    assert frame["_raw"].null_count() == frame.height
    assert set(frame["kind"]) <= CNXML_KINDS
    units = by_id(frame)

    assert units["m00011#p1"]["text"] == "Economics is the study of scarcity."
    assert units["m00011#p1"]["kind"] == "paragraph"
    assert units["m00011#p1"]["chapter"] == "1 Choice in a World of Scarcity"
    assert units["m00011#p1"]["section"] == "1.1 What Is Scarcity?"
    # A footnote leaves its sentence intact and becomes its own unit.
    assert units["m00011#p2"]["text"] == "Income is limited for most people."
    assert units["m00011#fn1"] == {**units["m00011#fn1"], "kind": "footnote", "text": "A footnote."}
    # Objectives come from the abstract list; the lead-in is a paragraph.
    objectives = frame.filter((pl.col("kind") == "objective") & pl.col("unit_id").str.starts_with("m00011"))
    assert objectives["text"].to_list() == ["Define scarcity", "Explain choice"]
    assert objectives["unit_id"].to_list() == ["m00011:objective-1", "m00011:objective-2"]
    assert units["m00011#a1"]["kind"] == "paragraph"
    # Notes keep their paragraphs; figures become captions (title first); media alt text is ignored.
    assert units["m00011#n1"]["kind"] == "note"
    assert units["m00011#n1"]["text"] == "Clear It Up: A para inside a note."
    assert units["m00011#fig-in-note:caption"]["text"] == "Caption inside a note."
    assert units["m00011#fig1:caption"]["text"] == "Scarce Things: Things are scarce."
    assert units["m00011#fig2:caption"]["text"] == "Only A Title"  # no dangling ":" after a lone title
    assert units["m00011#list1"] == {**units["m00011#list1"], "kind": "list", "text": "First item; Second item"}
    assert units["m00011#tab1"]["text"] == "Prices: Good | Price; Bread | $2"
    assert units["m00011#eq1"] == {**units["m00011#eq1"], "kind": "equation", "text": "P = 2"}
    assert units["m00011#p3"]["text"] == "Paragraph in a subsection with x + 1 inline."
    assert units["m00011#p-sum"]["kind"] == "summary"
    assert units["m00011#r1"]["kind"] == "reference"
    assert units["m00011#g1"] == {**units["m00011#g1"], "kind": "glossary", "text": "scarcity: wants exceed resources"}
    # Intro module is section n.0; front matter and appendices get their own chapters.
    assert units["m00010#n-obj"]["section"] == "1.0 Introduction"
    assert units["m00001#pf1"]["chapter"] == "0 Front matter"
    assert units["m00001#pf1"]["section"] == "0.1 Preface"
    assert units["m00090#ap1"]["chapter"] == "A Appendices"
    assert units["m00090#ap1"]["section"] == "A.1 Math Refresher"
    # Provenance: the file and line of the element.
    assert units["m00011#p1"]["_source_file"] == str(good_book / "modules" / "m00011" / "index.cnxml")
    assert units["m00011#p1"]["_source_row"] == 9
    assert files == [good_book / "collections" / "tiny.collection.xml"] + [
        good_book / "modules" / m / "index.cnxml" for m in ["m00001", "m00010", "m00011", "m00090"]
    ]


def test_cnxml_exercise_and_solution_ids_pair(good_book: Path) -> None:
    frame, _ = read_cnxml_book(good_book, ["tiny"])
    units = by_id(frame)
    assert units["m00011#ex1:exercise"]["text"] == "What is scarcity?"
    assert units["m00011#ex1:solution"]["text"] == "Limited resources."
    assert units["m00011#ex1:solution"]["kind"] == "solution"
    assert units["m00011#ex2:exercise"]["text"] == "Choosing: Why choose?"
    assert "m00011#ex2:solution" not in units
    pairs = frame.filter(pl.col("kind").is_in(["exercise", "solution"])).select(
        pl.col("unit_id").str.replace(r":(exercise|solution)$", "").alias("stem"), "kind"
    )
    assert pairs.filter(pl.col("kind") == "solution")["stem"].is_in(pairs.filter(pl.col("kind") == "exercise")["stem"].implode()).all()


def test_cnxml_no_text_emitted_twice_and_ids_unique_and_stable(good_book: Path) -> None:
    first, _ = read_cnxml_book(good_book, ["tiny"])
    second, _ = read_cnxml_book(good_book, ["tiny"])
    assert first.equals(second)
    assert first["unit_id"].is_unique().all()
    assert first.filter(pl.col("text").str.contains("A para inside a note")).height == 1
    assert first.filter(pl.col("text").str.contains("What is scarcity")).height == 1
    assert first.filter(pl.col("text").str.contains("In this chapter, you will learn")).height == 1


def test_cnxml_whitespace_is_normalised(good_book: Path) -> None:
    frame, _ = read_cnxml_book(good_book, ["tiny"])
    texts = frame["text"].drop_nulls().to_list()
    assert all(t == t.strip() and "  " not in t and "\n" not in t and "\u00a0" not in t and "\x00" not in t for t in texts)


def test_cnxml_missing_module_gives_one_error_row_each(tmp_path: Path) -> None:
    book = make_book(tmp_path, {"m00011": SECTION}, {"tiny": chapter("Scarcity", "m00011", "m77777", "m88888")})
    frame, files = read_cnxml_book(book, ["tiny"])
    errors = frame.filter(pl.col("_ingest_error").is_not_null())
    assert errors["unit_id"].to_list() == ["m77777", "m88888"]
    row = errors.row(0, named=True)
    assert row["_ingest_error"].startswith("module m77777 is listed in collection tiny but its index.cnxml is missing")
    assert row["_source_file"] == str(book / "collections" / "tiny.collection.xml")
    assert row["_source_row"] == 8
    assert 'document="m77777"' in row["_raw"]
    assert row["chapter"] == "1 Scarcity"
    assert frame.filter(pl.col("_ingest_error").is_null()).height > 10
    assert all("m77777" not in str(f) for f in files)


def test_cnxml_malformed_xml_becomes_error_row(tmp_path: Path) -> None:
    broken = '<document xmlns="http://cnx.rice.edu/cnxml"><title>Broken</title>\n<content>\n<para id="p">unclosed\n</content></document>'
    book = make_book(tmp_path, {"m00011": SECTION, "m00012": broken}, {"tiny": chapter("Scarcity", "m00011", "m00012")})
    frame, files = read_cnxml_book(book, ["tiny"])
    errors = frame.filter(pl.col("_ingest_error").is_not_null())
    assert errors.height == 1
    row = errors.row(0, named=True)
    assert row["_ingest_error"].startswith("not well-formed XML: ")
    assert row["unit_id"] == "m00012"
    assert row["_source_row"] == 4
    assert row["_raw"] == "</content></document>"
    assert row["chapter"] == "1 Scarcity"
    assert book / "modules" / "m00012" / "index.cnxml" in files


def test_cnxml_empty_units_and_loose_text_are_error_rows(tmp_path: Path) -> None:
    content = (
        '<para id="empty">   </para>\nstray words\n<exercise id="ex"><problem id="pr"><para id="q"> </para></problem>'
        '<solution id="so"><para id="a">Answer.</para></solution></exercise>'
        '<solution id="lonely"><para id="b">Orphan.</para></solution>'
    )
    book = make_book(tmp_path, {"m00020": module_xml("m00020", "Odd", content)}, {"tiny": chapter("Odd", "m00020")})
    frame, _ = read_cnxml_book(book, ["tiny"])
    errors = by_id(frame.filter(pl.col("_ingest_error").is_not_null()))
    assert errors["m00020#empty"]["_ingest_error"] == "paragraph empty in module m00020 is empty"
    assert errors["m00020#empty"]["_raw"].startswith("<para")
    assert errors["m00020#ex:exercise"]["_ingest_error"] == "exercise ex in module m00020 is empty"
    assert errors["m00020#lonely"]["_ingest_error"] == "solution outside an exercise in module m00020"
    loose = [r for r in errors.values() if r["_ingest_error"].startswith("text outside any paragraph")]
    assert len(loose) == 1 and loose[0]["text"] == "stray words"
    good = by_id(frame.filter(pl.col("_ingest_error").is_null()))
    assert good["m00020#ex:solution"]["text"] == "Answer."


def test_cnxml_not_a_cnxml_document(tmp_path: Path) -> None:
    book = make_book(tmp_path, {"m00030": "<html><body>hi</body></html>"}, {"tiny": chapter("X", "m00030")})
    frame, _ = read_cnxml_book(book, ["tiny"])
    assert frame.height == 1
    assert "is not a CNXML document" in frame["_ingest_error"][0]


def test_cnxml_several_collections_read_each_module_once(tmp_path: Path) -> None:
    other_preface = module_xml("m00002", "Preface", '<para id="pf2">Hello.</para>', doc_class="preface")
    other = module_xml("m00040", "Only in micro", '<para id="o1">Micro.</para>')
    book = make_book(
        tmp_path,
        {"m00001": PREFACE, "m00002": other_preface, "m00010": INTRO, "m00011": SECTION, "m00040": other},
        {
            "econ": '    <col:module document="m00001"/>\n' + chapter("Scarcity", "m00010", "m00011"),
            "micro": '    <col:module document="m00002"/>\n' + chapter("Micro Start", "m00011", "m00040"),
        },
    )
    frame, files = read_cnxml_book(book, ["econ", "micro"])
    units = by_id(frame)
    assert units["m00011#p1"]["chapter"] == "1 Scarcity"
    assert frame.filter(pl.col("unit_id") == "m00011#p1").height == 1
    assert units["m00040#o1"]["chapter"] == "1 Micro Start"
    assert units["m00040#o1"]["section"] == "1.2 Only in micro"  # m00011 is 1.1 in micro too
    # Both prefaces would be "0.1 Preface": the second gets its module id to keep labels unique.
    assert units["m00001#pf1"]["section"] == "0.1 Preface"
    assert units["m00002#pf2"]["section"] == "0.1 Preface [m00002]"
    per_module = frame.select(pl.col("unit_id").str.extract(r"^(m\d+)").alias("m"), "section").unique()
    assert per_module["section"].is_unique().all()
    assert len(files) == 2 + 5


def test_modules_outside_collections(tmp_path: Path) -> None:
    book = make_book(tmp_path, {"m00011": SECTION, "m00099": APPENDIX}, {"tiny": chapter("X", "m00011")})
    assert modules_outside_collections(book, ["tiny"]) == ["m00099"]
    frame, _ = read_cnxml_book(book, ["tiny"])
    assert not frame["unit_id"].str.starts_with("m00099").any()


def test_cnxml_missing_collection_is_a_config_error(tmp_path: Path) -> None:
    book = make_book(tmp_path, {}, {"tiny": chapter("X", "m1")})
    with pytest.raises(AssayError, match="collection 'nope' not found"):
        read_cnxml_book(book, ["nope"])
    with pytest.raises(AssayError, match="no collections given"):
        read_cnxml_book(book, [])


def test_cnxml_source_file_stays_relative(good_book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(good_book.parent)
    frame, files = read_cnxml_book(Path("book"), ["tiny"])
    assert frame["_source_file"].str.starts_with("book").all()
    assert all(not f.is_absolute() for f in files)


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------

GOOD_MD = """# Chapter 1: Data and Evidence

Intro   paragraph with *emphasis*, `code` and a [link](https://example.org).
It continues on a second line.

## 1.1 What Is a Dataset?

### Learning objectives

- Define a dataset.
- Distinguish variables and records.

A body paragraph.

- body item one
- body item two

### Exercises

1. First question?
2. Second question?

### Solutions

1. First answer.
2. Second answer.

## 1.2 Provenance

Provenance paragraph.
"""


def write(tmp_path: Path, name: str, text: str, newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def errors_of(frame: pl.DataFrame) -> list[str]:
    return frame["_ingest_error"].drop_nulls().to_list()


def test_markdown_good_units(tmp_path: Path) -> None:
    path = write(tmp_path, "ch01.md", GOOD_MD)
    frame = read_markdown_course([path])
    assert frame.schema == pl.Schema(UNIT_SCHEMA)
    assert errors_of(frame) == []
    assert set(frame["kind"]) <= MARKDOWN_KINDS
    assert frame.select("section", "unit_id", "kind", "text", "_source_row").rows() == [
        ("1.0 Introduction", "ch01:1.0:paragraph-1", "paragraph", "Intro paragraph with emphasis, code and a link. It continues on a second line.", 3),
        ("1.1 What Is a Dataset?", "ch01:1.1:objective-1", "objective", "Define a dataset.", 10),
        ("1.1 What Is a Dataset?", "ch01:1.1:objective-2", "objective", "Distinguish variables and records.", 11),
        ("1.1 What Is a Dataset?", "ch01:1.1:paragraph-1", "paragraph", "A body paragraph.", 13),
        ("1.1 What Is a Dataset?", "ch01:1.1:list-1", "list", "body item one; body item two", 15),
        ("1.1 What Is a Dataset?", "ch01:1.1:exercise-1", "exercise", "First question?", 20),
        ("1.1 What Is a Dataset?", "ch01:1.1:exercise-2", "exercise", "Second question?", 21),
        ("1.1 What Is a Dataset?", "ch01:1.1:solution-1", "solution", "First answer.", 25),
        ("1.1 What Is a Dataset?", "ch01:1.1:solution-2", "solution", "Second answer.", 26),
        ("1.2 Provenance", "ch01:1.2:paragraph-1", "paragraph", "Provenance paragraph.", 30),
    ]
    assert set(frame["chapter"]) == {"1 Data and Evidence"}
    assert set(frame["_source_file"]) == {str(path)}
    assert frame["unit_id"].is_unique().all()


def test_markdown_crlf_gives_same_units(tmp_path: Path) -> None:
    lf = read_markdown_course([write(tmp_path, "ch01.md", GOOD_MD)])
    (tmp_path / "crlf").mkdir()
    crlf = read_markdown_course([write(tmp_path / "crlf", "ch01.md", GOOD_MD, newline="\r\n")])
    assert lf.drop("_source_file").equals(crlf.drop("_source_file"))
    assert not crlf["text"].str.contains("\r").any()


def test_markdown_exercise_numbers_kept_and_paired(tmp_path: Path) -> None:
    text = "# Chapter 2: X\n\n## 2.3 Y\n\n### Exercises\n\n3. Q three\n4. Q four\n\n### Solutions\n\n4. A four\n"
    frame = read_markdown_course([write(tmp_path, "c2.md", text)])
    assert frame["unit_id"].to_list() == ["c2:2.3:exercise-3", "c2:2.3:exercise-4", "c2:2.3:solution-4"]
    assert errors_of(frame) == []


def test_markdown_text_before_first_chapter(tmp_path: Path) -> None:
    text = "Stray preface line.\n\n- stray item\n\n## 1.1 Too early\n\n# Chapter 1: Fine\n\nOK.\n"
    frame = read_markdown_course([write(tmp_path, "c.md", text)])
    assert errors_of(frame) == [
        "text before the first chapter heading",
        "text before the first chapter heading",
        "section heading outside a chapter",
    ]
    first = frame.row(0, named=True)
    assert first["_raw"] == "Stray preface line." and first["_source_row"] == 1 and first["text"] == "Stray preface line."
    assert first["chapter"] is None and first["unit_id"] == "c:line-1"
    assert frame.row(2, named=True)["_raw"] == "## 1.1 Too early"
    assert frame.row(3, named=True)["text"] == "OK."
    assert frame.row(3, named=True)["_ingest_error"] is None


def test_markdown_empty_items_and_unmatched_solution(tmp_path: Path) -> None:
    text = "# Chapter 1: X\n\n## 1.1 Y\n\n### Exercises\n\n1. Q one\n2.\n3. Q three\n\n### Solutions\n\n1. A one\n2.\n5. A five\n"
    frame = read_markdown_course([write(tmp_path, "c.md", text)])
    rows = {r["unit_id"]: r for r in frame.iter_rows(named=True)}
    assert rows["c:1.1:exercise-2"]["_ingest_error"] == "exercise 2 is empty"
    assert rows["c:1.1:exercise-2"]["_raw"] == "2."
    assert rows["c:1.1:exercise-2"]["text"] is None
    assert rows["c:1.1:solution-2"]["_ingest_error"] == "solution 2 is empty"
    assert rows["c:1.1:solution-5"]["_ingest_error"] == "solution 5 has no matching exercise in section 1.1"
    assert rows["c:1.1:solution-5"]["_raw"] == "5. A five"
    assert rows["c:1.1:solution-5"]["text"] == "A five"
    assert rows["c:1.1:solution-1"]["_ingest_error"] is None
    assert rows["c:1.1:exercise-3"]["_ingest_error"] is None


def test_markdown_unknown_and_deep_headings(tmp_path: Path) -> None:
    text = "# Chapter 1: X\n\n## 1.1 Y\n\n### Key terms\n\nA term.\n\n#### Deep\n\n##### Deeper\n"
    frame = read_markdown_course([write(tmp_path, "c.md", text)])
    assert errors_of(frame) == [
        "unknown subsection heading '### Key terms' (expected Learning objectives, Exercises or Solutions)",
        "heading level 4 is not part of the course format (use #, ## or ###)",
        "heading level 5 is not part of the course format (use #, ## or ###)",
    ]
    kept = frame.filter(pl.col("_ingest_error").is_null())
    assert kept["text"].to_list() == ["A term."]
    assert frame.filter(pl.col("_ingest_error").is_not_null())["_raw"].to_list() == ["### Key terms", "#### Deep", "##### Deeper"]


def test_markdown_bad_chapter_and_section_headings(tmp_path: Path) -> None:
    text = "# Data Chapter\n\nOrphan.\n\n# Chapter 2: Good\n\n## Untitled section\n\nLost.\n\n## 3.1 Wrong chapter\n\n## 2.1 Fine\n\nKept.\n\n## 2.1 Again\n"
    frame = read_markdown_course([write(tmp_path, "c.md", text)])
    errors = errors_of(frame)
    assert errors[0] == "chapter heading does not match '# Chapter <n>: <title>'"
    assert errors[1].startswith("text under a chapter heading that could not be parsed")
    assert errors[2] == "section heading does not match '## <chapter>.<n> <title>'"
    assert errors[3].startswith("text under a section heading that could not be used")
    assert errors[4] == "section 3.1 is numbered for chapter 3 but sits in chapter 2"
    assert errors[5] == "section 2.1 appears twice (first at line 13)"
    kept = frame.filter(pl.col("_ingest_error").is_null())
    assert kept.select("section", "text").rows() == [("2.1 Fine", "Kept.")]


def test_markdown_duplicate_exercise_number_keeps_ids_unique(tmp_path: Path) -> None:
    text = "# Chapter 1: X\n\n## 1.1 Y\n\n### Exercises\n\n1. Q\n1. Q again\n"
    frame = read_markdown_course([write(tmp_path, "c.md", text)])
    assert frame["unit_id"].is_unique().all()
    assert errors_of(frame) == ["exercise 1 appears twice in section 1.1"]


def test_markdown_unsupported_blocks_are_error_rows(tmp_path: Path) -> None:
    text = "# Chapter 1: X\n\n```\ncode here\n```\n\n<div>html</div>\n\n> quoted text\n"
    frame = read_markdown_course([write(tmp_path, "c.md", text)])
    assert errors_of(frame) == ["a code block is not part of the course format", "raw HTML is not part of the course format"]
    assert frame.filter(pl.col("_ingest_error").is_null())["text"].to_list() == ["quoted text"]


def test_markdown_invalid_utf8_names_file_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_bytes(b"# Chapter 1: Caf\xe9\n")
    with pytest.raises(AssayError, match=r"bad\.md: not valid UTF-8 at byte offset 16"):
        read_markdown_course([path])


def test_markdown_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(AssayError, match=r"nope\.md: cannot read course file"):
        read_markdown_course([tmp_path / "nope.md"])


def test_markdown_whitespace_normalised_but_text_otherwise_kept(tmp_path: Path) -> None:
    text = "# Chapter 1: X\n\nTabs\there  and   spaces, mojibake cafÃ© kept.  \nNext\u00a0line.\n"
    frame = read_markdown_course([write(tmp_path, "c.md", text)])
    assert frame["text"].to_list() == ["Tabs here and spaces, mojibake cafÃ© kept. Next line."]


def test_markdown_several_files_keep_order_and_unique_ids(tmp_path: Path) -> None:
    one = write(tmp_path, "ch01.md", GOOD_MD)
    two = write(tmp_path, "ch02.md", GOOD_MD.replace("Chapter 1", "Chapter 2").replace("## 1.", "## 2."))
    frame = read_markdown_course([one, two])
    assert frame["unit_id"].is_unique().all()
    assert frame["chapter"].unique(maintain_order=True).to_list() == ["1 Data and Evidence", "2 Data and Evidence"]
    assert frame.group_by("section").agg(pl.col("_source_file").n_unique())["_source_file"].max() == 1


def test_markdown_relative_path_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "ch01.md", GOOD_MD)
    monkeypatch.chdir(tmp_path)
    frame = read_markdown_course([Path("ch01.md")])
    assert set(frame["_source_file"]) == {"ch01.md"}


# ---------------------------------------------------------------------------------------------
# The real OpenStax book
# ---------------------------------------------------------------------------------------------


@pytest.mark.real_data
@pytest.mark.skipif(not SHARED_BOOK.is_dir(), reason=f"shared OpenStax data not present at {SHARED_BOOK}")
def test_real_openstax_book() -> None:
    started = time.perf_counter()
    frame, files = read_cnxml_book(SHARED_BOOK, ["principles-economics-3e"])
    elapsed = time.perf_counter() - started
    collection = (SHARED_BOOK / "collections" / "principles-economics-3e.collection.xml").read_text(encoding="utf-8")
    listed = set(re.findall(r'document="(m\d+)"', collection))
    read = {f.parent.name for f in files[1:]}
    assert read == listed, "every module in the collection is read"
    assert set(frame["unit_id"].str.extract(r"^(m\d+)").unique()) == listed
    assert frame["unit_id"].is_unique().all()
    assert set(frame["kind"].drop_nulls()) <= CNXML_KINDS
    good = frame.filter(pl.col("_ingest_error").is_null())
    assert good["text"].null_count() == 0 and (good["text"].str.len_chars() > 0).all()
    assert not good["text"].str.contains("\x00|  |^ | $").any()
    assert good.height == frame.height, frame.filter(pl.col("_ingest_error").is_not_null())
    sections = frame.select(pl.col("unit_id").str.extract(r"^(m\d+)").alias("module"), "section").unique()
    assert sections.height == len(listed) and sections["section"].is_unique().all()
    counts = dict(good.group_by("kind").len().iter_rows())
    assert 2000 < counts["paragraph"] < 5000
    assert 1000 < counts["exercise"] < 2000
    assert 250 < counts["solution"] < counts["exercise"]
    assert 300 < counts["objective"] < 800
    assert 300 < counts["glossary"] < 1000
    assert counts["caption"] > 200 and counts["note"] > 200 and counts["table"] > 100
    assert counts["summary"] > 100 and counts["reference"] > 100
    assert modules_outside_collections(SHARED_BOOK, ["principles-economics-3e"]) == sorted(
        p.name for p in (SHARED_BOOK / "modules").iterdir() if p.name not in listed
    )
    assert elapsed < 10, f"reading the book took {elapsed:.1f}s (expected about a quarter of a second)"
