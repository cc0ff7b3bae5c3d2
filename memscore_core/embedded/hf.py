"""transformers as the embedded server uses it, imported without scikit-learn.

transformers imports scikit-learn and scipy as soon as a model class loads, for one function of assisted
generation and one of object detection's loss, which the server never runs: 77 MB of resident memory. Telling
transformers that they are unavailable before its generation and loss code is imported keeps them out of the
process (the surrogate strategy imports scikit-learn itself when it fits). The server's modules import
transformers' names from here.
"""

import transformers.utils


def _unavailable() -> bool:
    return False


for _check in ("is_sklearn_available", "is_scipy_available"):
    setattr(transformers.utils, _check, _unavailable)

from transformers import AttentionInterface, AutoModelForCausalLM, AutoTokenizer, DynamicCache  # noqa: E402
from transformers.masking_utils import AttentionMaskInterface  # noqa: E402
from transformers.utils import logging  # noqa: E402

__all__ = ["AttentionInterface", "AttentionMaskInterface", "AutoModelForCausalLM", "AutoTokenizer", "DynamicCache",
           "logging"]
