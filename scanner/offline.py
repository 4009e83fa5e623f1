"""Keep the detector libraries off the network.

The gate runs inside a VPC with no route out, and a library that tries to fetch at run time
either hangs on a connect timeout in the middle of a request or, worse, succeeds. Three
things in the detector stack would fetch:

- tldextract (Presidio's email recognizer validates domains with it) downloads the public
  suffix list on first use and caches it under the home directory;
- Presidio's spaCy engines call `spacy.cli.download` for a model that is not installed;
- Hugging Face based recognizers pull models from the hub.

`make_offline()` pins each of them to what is installed. It is idempotent and cheap, and every
detector that uses these libraries calls it before building its engine.
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_done = False

# Hub clients read these at import or call time; setdefault leaves an operator's choice alone.
_OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
}


class ModelDownloadRefused(RuntimeError):
    """A library asked to download a model; metagate only uses what is installed."""


def make_offline() -> None:
    """Configure tldextract, Presidio and spaCy never to reach the network."""
    global _done
    with _lock:
        if _done:
            return
        for name, value in _OFFLINE_ENV.items():
            os.environ.setdefault(name, value)
        _pin_tldextract_to_snapshot()
        _refuse_spacy_downloads()
        _done = True


def _pin_tldextract_to_snapshot() -> None:
    import tldextract
    import tldextract.tldextract as tld_module

    # No URLs and no cache directory: the suffix list comes from the snapshot bundled in the
    # wheel. `tldextract.extract` looks the module-level extractor up at call time, so
    # replacing it covers Presidio's EmailRecognizer and any other caller.
    offline = tld_module.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
    offline("example.com")  # load the snapshot now, not inside the first request
    tld_module.TLD_EXTRACTOR = offline
    if getattr(tldextract, "TLD_EXTRACTOR", None) is not None:
        tldextract.TLD_EXTRACTOR = offline


def refuse_missing_model(model_name: str) -> None:
    """Raise unless `model_name` is an installed spaCy pipeline package or a local path."""
    import spacy.util

    if spacy.util.is_package(model_name) or os.path.exists(model_name):
        return
    raise ModelDownloadRefused(
        f"spaCy pipeline {model_name!r} is not installed and metagate does not download models; "
        "install it into the environment (pip install <wheel>) or configure none"
    )


def _refuse_spacy_downloads() -> None:
    # Presidio's engines download a missing spaCy model through these static methods.
    from presidio_analyzer.nlp_engine import slim_spacy_nlp_engine, spacy_nlp_engine

    spacy_nlp_engine.SpacyNlpEngine._download_spacy_model_if_needed = staticmethod(refuse_missing_model)
    slim_spacy_nlp_engine.SlimSpacyNlpEngine._download_spacy_model_if_needed = staticmethod(
        refuse_missing_model
    )
