from tartan_fw.models.bodies.base import Body, TextBody, text_body
from tartan_fw.models.bodies.huggingface import HuggingFaceBody
from tartan_fw.models.bodies.scratch import ScratchBody

__all__ = ["Body", "HuggingFaceBody", "ScratchBody", "TextBody", "text_body"]
