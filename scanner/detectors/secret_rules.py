"""Secret rules as data: the `SecretRule` record, and gitleaks' rule set loaded into it.

gitleaks' `config/gitleaks.toml` (MIT; see gitleaks.source.json for the upstream commit,
licence and sha256 of the copy shipped beside this module) is the maintained catalogue of
vendor token formats. Each `[[rules]]` entry becomes one `SecretRule`: its regex translated
from Go's RE2 syntax to Python's `re`, its keywords (a rule runs only on a leaf where one of
them occurs, caselessly, as gitleaks' prefilter does), `secretGroup`, `entropy` and
allowlists (stopwords and regexes against the secret, the match or the line); the global
allowlist applies to every gitleaks rule.

What changes in translation, and why:

- RE2 syntax Python lacks: a flag group such as `(?i)` in mid-pattern (RE2 applies it to the
  end of the enclosing group: written as a scoped `(?i:...)` up to there, reopened after
  each `|`), `\\z` (`\\Z`), POSIX classes (`[[:alnum:]]`), `(?<name>`. Patterns compile with
  `re.ASCII`: RE2's `\\w`, `\\d`, `\\s` and `\\b` are ASCII.
- gitleaks' token end `(?:[\\x60'"\\s;]|\\\\[nr]|$)` becomes a lookahead that also accepts the
  delimiters of a request's own syntax and of prose (`&` `?` `#` of a URL, `,` `)` `]` `}` of
  JSON and code, `<` `>` of markup, `.` `/` `\\` `:` `!` `|`): a token that ends a query value,
  a path segment, a JSON array item or a sentence is still a token. As a lookahead the
  delimiter stays out of the match.
- Bounded for Python's backtracking engine (RE2 is linear, `re` is not): the keyword-context
  rules' lazy identifier prefix `[\\w.-]{0,50}?` is dropped from the pattern and recomputed
  after a match for the allowlists that read it (`identifier_prefix`), the identifier run
  after the keyword is possessive, the curl rules search from their option with `curl`
  checked before it (`CURL_BEFORE`), and `REWRITTEN` lists the other rewrites with why.
- `path` conditions (file names) have no meaning in a request: a rule with a regex runs on
  every leaf; a path-only rule cannot be translated. Allowlists of paths or commits never
  allow (an AND allowlist with one of them never applies).

`gitleaks_rules().untranslated` lists every rule that could not be loaded, by id, with the reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from re import _parser as sre_parse  # re's own parser: the longest match a pattern can make
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from metagate.scanner.prefilter import Trigger

HERE = Path(__file__).parent
GITLEAKS_TOML = HERE / "gitleaks.toml"
GITLEAKS_SOURCE = HERE / "gitleaks.source.json"

# The longest candidate a rule may match: RE2 runs in linear time, Python's engine may not,
# so a leaf longer than a window is searched only around the rule's keywords, each window
# reaching this far on either side (a 4096-bit RSA key in PEM is about 3.3 KB).
MAX_CANDIDATE = 8192
# A leaf at most this long is searched whole, exactly as gitleaks searches a fragment.
WHOLE_LEAF = 4096


@dataclass(frozen=True, slots=True)
class Allowlist:
    """gitleaks' allowlist: a finding is allowed when one of `regexes` is found in the
    `target` (the secret, the whole match or its line) or the secret (lowercased) contains
    one of `stopwords`; with `all_of` (gitleaks' condition AND) both must hold."""

    regexes: tuple[re.Pattern[str], ...] = ()
    stopwords: tuple[str, ...] = ()
    target: str = "secret"          # secret | match | line
    all_of: bool = False

    def allows(self, secret: str, match: str, line: str) -> bool:
        text = {"match": match, "line": line}.get(self.target, secret)
        by_regex = bool(text) and any(regex.search(text) for regex in self.regexes)
        lowered = secret.lower()
        by_stopword = bool(secret) and any(word in lowered for word in self.stopwords)
        if self.all_of:
            checks = ([by_regex] if self.regexes else []) + ([by_stopword] if self.stopwords else [])
            return bool(checks) and all(checks)
        return by_regex or by_stopword


@dataclass(frozen=True, slots=True)
class SecretRule:
    """One rule, in gitleaks' shape: what it reports (`id`), the pattern, which group of it is
    the secret, the entropy the secret must have, the keywords every match contains, and the
    allowlists that excuse a match.

    `keywords` gate the rule (it runs only on leaves where one of them is found, in one pass
    over all leaves joined, see `prefilter`), as gitleaks' keywords do. The secret is group
    `secret_group` when set; else, for gitleaks' rules (`first_group`), the first non-empty
    group or the whole match, as gitleaks takes it; else detect-secrets' convention: the
    longest group that closes the match, else the whole match less delimiters. `entropy` is a
    floor on the secret's Shannon entropy (bits per character; gitleaks keeps a secret only
    above it); `validate` a check on the secret itself (a JWT's structure). `max_length` is
    the longest match the pattern can make (capped at `MAX_CANDIDATE`): it bounds the windows
    a long leaf is searched in. `source` says where the rule comes from."""

    id: str
    pattern: re.Pattern[str]
    keywords: tuple[Trigger, ...]
    score: float
    secret_group: int | None = None
    entropy: float | None = None
    validate: Callable[[str], bool] | None = None
    allowlists: tuple[Allowlist, ...] = ()
    first_group: bool = False
    identifier_prefix: int = 0     # how far before a match its dropped identifier prefix reached
    max_length: int = MAX_CANDIDATE
    source: str = "metagate"
    preceded_by: re.Pattern[str] | None = None   # must occur before the match (see CURL_BEFORE)
    keyword_texts: tuple[str, ...] = field(default=())   # lowercased literal keywords, for windows


# --- RE2 to Python ----------------------------------------------------------------------------


class Untranslatable(ValueError):
    """A gitleaks regex that has no faithful Python form (the message says why)."""


_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "digit": "0-9", "lower": "a-z", "upper": "A-Z",
    "xdigit": "0-9A-Fa-f", "space": r"\t\n\v\f\r ", "word": r"\w", "blank": r" \t",
    "punct": r"!-/:-@\[-`{-~", "cntrl": r"\x00-\x1f\x7f", "print": r" -~", "graph": r"!-~",
}
_FLAG_GROUP = re.compile(r"\(\?([A-Za-z]*(?:-[A-Za-z]*)?)\)")
_PYTHON_FLAGS = set("ims")     # RE2's U (ungreedy) means Unicode in Python


def translate_re2(source: str) -> str:
    """A Python `re` pattern equivalent to the RE2 pattern `source` (see the module doc)."""
    out: list[str] = []
    # One entry per open group: the flag groups opened inside it and still to be closed.
    pending: list[list[str]] = [[]]
    position, length = 0, len(source)
    in_class = False
    while position < length:
        char = source[position]
        if char == "\\":
            escaped = source[position + 1 : position + 2]
            if escaped in ("p", "P", "Q", "C", "E"):
                raise Untranslatable(f"RE2 escape \\{escaped} has no Python form")
            out.append(r"\Z" if escaped == "z" else source[position : position + 2])
            position += 2
            continue
        if in_class:
            if source.startswith("[:", position):
                end = source.find(":]", position)
                name = source[position + 2 : end]
                if end < 0 or name not in _POSIX_CLASSES:
                    raise Untranslatable(f"POSIX class [:{name}:] is not translated")
                out.append(_POSIX_CLASSES[name])
                position = end + 2
                continue
            if char == "[":
                out.append(r"\[")   # literal in RE2; Python warns of a nested set
            else:
                out.append(char)
                in_class = char != "]"
            position += 1
            continue
        if char == "[":
            in_class = True
            out.append(char)
            position += 1
            if source.startswith("^", position):
                out.append("^")
                position += 1
            if source.startswith("]", position):
                out.append(r"\]")
                position += 1
            continue
        if char == "(":
            flag_group = _FLAG_GROUP.match(source, position)
            if flag_group:
                flags = flag_group.group(1)
                if set(flags.replace("-", "")) - _PYTHON_FLAGS:
                    raise Untranslatable(f"flags {flags!r} have no Python equivalent")
                if position == 0 and "-" not in flags:
                    out.append(flag_group.group())       # global flags at the start: as is
                elif flags.strip("-"):
                    out.append(f"(?{flags}:")
                    pending[-1].append(flags)
                position = flag_group.end()
                continue
            if source.startswith("(?<", position) and source[position + 3 : position + 4] not in ("=", "!"):
                out.append("(?P<")
                pending.append([])
                position += 3
                continue
            pending.append([])
            out.append("(")
            position += 1
            continue
        if char == ")":
            if len(pending) == 1:
                raise Untranslatable("unbalanced ')'")
            out.append(")" * len(pending.pop()))
            out.append(")")
            position += 1
            continue
        if char == "|" and pending[-1]:
            # RE2's flags hold to the end of the group, across its alternatives.
            out.append(")" * len(pending[-1]) + "|" + "".join(f"(?{f}:" for f in pending[-1]))
            position += 1
            continue
        out.append(char)
        position += 1
    if len(pending) != 1 or in_class:
        raise Untranslatable("unbalanced group or class")
    out.append(")" * len(pending[0]))
    return "".join(out)


# gitleaks' generated token end (cmd/generate/config/utils: secretSuffix).
_GITLEAKS_TOKEN_END = r"""(?:[\x60'"\s;]|\\[nr]|$)"""
_TOKEN_END = r"""(?=[\x60'"\s;&,./\\:?#!)\]}<>|]|\\[nr]|$)"""
# gitleaks' generated identifier prefix of keyword-context rules (utils: identifierPrefix).
_IDENTIFIER_PREFIX = r"[\w.-]{0,50}?"
IDENTIFIER_REACH = 50


# ... and the rest of the identifier before the operator. None of its characters can start
# what follows (quotes and blanks, then `=`, `:`, `>`, `|`, `?` or `,`): giving characters
# back never helps a match, so the run is possessive and fails at once where it fails.
_IDENTIFIER_SUFFIX = r"""(?:[ \t\w.-]{0,20})[\s'"]{0,3}"""
_IDENTIFIER_SUFFIX_POSSESSIVE = r"""(?:[ \t\w.-]{0,20}+)[\s'"]{0,3}"""
# Rules rewritten for Python's backtracking engine, by gitleaks id: (RE2 fragment, Python
# fragment, why). Each rewrite matches what the RE2 pattern matches.
REWRITTEN: dict[str, tuple[str, str, str]] = {
    # (the curl rules lose their `curl ...` opening instead: see _CURL_PREFIXES below)
    "generic-api-key": (
        r"([\w.=-]{10,150}|[a-z0-9][a-z0-9+/]{11,}={0,3})",
        r"([\w.=-]{10,150}+|[a-z0-9][a-z0-9+/]{11,}+={0,3})",
        "after `key=key=...` each value ran 150 characters and gave them back one by one (6 s a "
        "megabyte); gitleaks' token end shares no character with the value's classes, so giving "
        "back never finds its match: both runs are possessive (which also keeps the wider token "
        "end from cutting a value at a dot or slash)",
    ),
}
# The curl rules open with `\bcurl\b` and any text up to the `-H`/`-u` option, over up to six
# lines: Python retries that run from every `curl` to every option after it (quadratic in a
# text full of them). The rules search from the option instead, and `preceded_by` checks
# that `curl` stands before it on its line or up to five lines above (what the prefix said).
_CURL_PREFIXES = (r"\bcurl\b(?:.*?|.*?(?:[\r\n]{1,2}.*?){1,5})", r"\bcurl\b(?:.*|.*(?:[\r\n]{1,2}.*){1,5})")
CURL_BEFORE = re.compile(r"\bcurl\b", re.ASCII)
CURL_LINES = 6
_LEADING_PREFIX = re.compile(r"\A((?:\(\?i\)|\(\?i:)*)" + re.escape(_IDENTIFIER_PREFIX))


def _compile(source: str, rule_id: str = "") -> tuple[re.Pattern[str], int]:
    """(compiled Python pattern, how far before a match gitleaks' dropped identifier prefixes
    reached: 0 when the pattern had none; cisco-meraki-api-key has two, one inside a group)."""
    if rule_id in REWRITTEN:
        fragment, replacement, _ = REWRITTEN[rule_id]
        if fragment not in source:
            raise Untranslatable(f"the rewrite of {rule_id} no longer applies to its regex")
        source = source.replace(fragment, replacement)
    for curl in _CURL_PREFIXES:
        if source.startswith(curl):
            source = source[len(curl) :]
    reach = 0
    while (prefix := _LEADING_PREFIX.match(source)) is not None:
        source = prefix.group(1) + source[prefix.end() :]
        reach += IDENTIFIER_REACH
    source = source.replace(_GITLEAKS_TOKEN_END, _TOKEN_END)
    source = source.replace(_IDENTIFIER_SUFFIX, _IDENTIFIER_SUFFIX_POSSESSIVE)
    translated = translate_re2(source)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # a FutureWarning means a changed meaning
        try:
            return re.compile(translated, re.ASCII), reach
        except (re.error, FutureWarning) as error:
            raise Untranslatable(f"Python re rejects it: {error}") from None


def max_length(pattern: re.Pattern[str]) -> int:
    """The longest match `pattern` can make, at most `MAX_CANDIDATE`."""
    try:
        longest = sre_parse.parse(pattern.pattern, pattern.flags).getwidth()[1]
    except (re.error, OverflowError):
        return MAX_CANDIDATE
    return min(longest, MAX_CANDIDATE)


# --- gitleaks' rules as SecretRule records ------------------------------------------------------

# Entities the project already reported for a format, kept so that policies, corpora and
# reports keep their names; any other gitleaks rule reports its id in SCREAMING_SNAKE case.
_ENTITY_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("aws-access-token", "AWS_ACCESS_KEY"),
    ("github-", "GITHUB_TOKEN"),
    ("gitlab-", "GITLAB_TOKEN"),
    ("slack-", "SLACK_TOKEN"),
    ("stripe-", "STRIPE_KEY"),
    ("openai-", "OPENAI_KEY"),
    ("anthropic-", "ANTHROPIC_KEY"),
    ("huggingface-", "HUGGINGFACE_TOKEN"),
    ("jwt", "JWT"),
    ("private-key", "PRIVATE_KEY"),
    ("gcp-api-key", "GOOGLE_API_KEY"),
    ("azure-ad-client-secret", "AZURE_CLIENT_SECRET"),
    ("sendgrid-", "SENDGRID_KEY"),
    ("pypi-", "PYPI_TOKEN"),
    ("npm-", "NPM_TOKEN"),
    ("twilio-", "TWILIO_KEY"),
    ("mailchimp-", "MAILCHIMP_KEY"),
    ("telegram-", "TELEGRAM_TOKEN"),
)
VENDOR_SCORE = 0.9        # a vendor's own token format
GENERIC_SCORE = 0.7       # gitleaks' generic-api-key: a keyword and a random value


def entity_for(rule_id: str) -> str:
    for prefix, entity in _ENTITY_BY_PREFIX:
        if rule_id.startswith(prefix):
            return entity
    return rule_id.upper().replace("-", "_")


def _allowlist(entry: dict[str, object], dropped: frozenset[str] = frozenset()) -> Allowlist | None:
    """An allowlist that can apply to a request; None when it needs a file path or a commit
    (AND) or has nothing but those (OR). Regexes in `dropped` are left out."""
    all_of = str(entry.get("condition", "OR")).upper() == "AND"
    if all_of and (entry.get("paths") or entry.get("commits")):
        return None
    regexes = tuple(_compile(str(r))[0] for r in entry.get("regexes", ()) if str(r) not in dropped)  # type: ignore[union-attr]
    stopwords = tuple(str(w).lower() for w in entry.get("stopwords", ()))  # type: ignore[union-attr]
    if not regexes and not stopwords:
        return None
    return Allowlist(regexes, stopwords, str(entry.get("regexTarget", "secret")), all_of)


# Allowlists of our own, by gitleaks id, added to the rule's: ZenML's metadata is full of
# digests and UUIDs (`KeyError: '<md5>'`, `run_id: <uuid>`), which never decide a verdict; a
# hex key under a key that names a secret is still found by key context (secrets.py).
EXTRA_ALLOWLISTS: dict[str, Allowlist] = {
    "generic-api-key": Allowlist(regexes=(
        re.compile(r"\A(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{56}|[0-9a-f]{64}|[0-9a-f]{96}|[0-9a-f]{128}"
                   r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\Z"),
    )),
}


# gitleaks allowlist regexes not applied, by gitleaks id. AWS's documented example key is what
# leak tests plant and what the gate blocked before it read gitleaks' rules; a suffix that
# excuses any key ending in it is a place to hide.
DROPPED_ALLOWLIST_REGEXES: dict[str, frozenset[str]] = {"aws-access-token": frozenset({".+EXAMPLE$"})}


@dataclass(frozen=True, slots=True)
class GitleaksRules:
    rules: tuple[SecretRule, ...]
    untranslated: tuple[tuple[str, str], ...]     # (gitleaks id, reason)
    global_allowlist: Allowlist | None


def verify_source() -> str:
    """The sha256 of the shipped gitleaks.toml, checked against gitleaks.source.json."""
    digest = hashlib.sha256(GITLEAKS_TOML.read_bytes()).hexdigest()
    recorded = json.loads(GITLEAKS_SOURCE.read_text())["sha256"]
    if digest != recorded:
        raise RuntimeError(f"gitleaks.toml has sha256 {digest}, gitleaks.source.json records {recorded}")
    return digest


@cache
def gitleaks_rules() -> GitleaksRules:
    """gitleaks' rules as `SecretRule` records, in the file's order (loaded once)."""
    verify_source()
    config = tomllib.loads(GITLEAKS_TOML.read_text())
    global_entry = config.get("allowlist", {})
    global_allowlist = _allowlist(global_entry) if global_entry else None
    rules: list[SecretRule] = []
    untranslated: list[tuple[str, str]] = []
    for entry in config["rules"]:
        rule_id = entry["id"]
        if "regex" not in entry:
            untranslated.append((rule_id, "a path-only rule: it matches file names, and a request has none"))
            continue
        try:
            pattern, reach = _compile(entry["regex"], rule_id)
            dropped = DROPPED_ALLOWLIST_REGEXES.get(rule_id, frozenset())
            allowlists = tuple(a for a in (_allowlist(e, dropped) for e in entry.get("allowlists", ())) if a is not None)
            if rule_id in EXTRA_ALLOWLISTS:
                allowlists += (EXTRA_ALLOWLISTS[rule_id],)
        except Untranslatable as error:
            untranslated.append((rule_id, str(error)))
            continue
        keywords = tuple(dict.fromkeys(k.lower() for k in entry.get("keywords", ())))
        rules.append(
            SecretRule(
                id=entity_for(rule_id),
                pattern=pattern,
                keywords=tuple(Trigger.text(k, ignore_case=True) for k in keywords),
                score=GENERIC_SCORE if rule_id == "generic-api-key" else VENDOR_SCORE,
                secret_group=entry.get("secretGroup") or None,
                entropy=entry.get("entropy") or None,
                allowlists=allowlists,
                first_group=True,
                identifier_prefix=reach,
                max_length=max_length(pattern) + reach,
                source=f"gitleaks:{rule_id}",
                preceded_by=CURL_BEFORE if entry["regex"].startswith(_CURL_PREFIXES) else None,
                keyword_texts=keywords,
            )
        )
    return GitleaksRules(tuple(rules), tuple(untranslated), global_allowlist)
