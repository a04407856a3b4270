"""The one sanitiser for user-written text: Markdown to HTML, then nh3 keeps only safe tags.

Every piece of text a user, caller or e-mail wrote goes through `render_user_text` before
it reaches a page. Nothing else in the code base marks user text safe.
"""

import threading

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4",
    "hr", "i", "li", "ol", "p", "pre", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"}, "th": {"align"}}
_MARKDOWN_EXTENSIONS = ["fenced_code", "tables", "sane_lists", "nl2br"]

# Building a Markdown converter (its parser, patterns and extensions) costs several times
# what converting a reply does, so each thread keeps one and resets it between texts. A
# converter holds state while it works, so it is never shared between threads.
_converters = threading.local()


def _markdown_to_html(text: str) -> str:
    converter = getattr(_converters, "markdown", None)
    if converter is None:
        converter = _converters.markdown = markdown.Markdown(
            extensions=_MARKDOWN_EXTENSIONS, output_format="html"
        )
    try:
        return converter.convert(text)
    finally:
        converter.reset()


def render_user_text(text: str | None) -> SafeString:
    """Markdown → HTML → sanitised HTML, safe to insert into a page."""
    if not text:
        return mark_safe("")
    html = _markdown_to_html(text)
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(cleaned)  # noqa: S308 - nh3 has removed everything unsafe
