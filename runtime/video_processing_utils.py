"""Video processors, and processors that hold one beside their image processor.

A video is a sequence of frames; a video processor is an image processor whose samples are videos:
each video becomes one list of (C, H, W) frames, and the model's `_preprocess(videos, **options)`
sees one list of frames per video. The inputs transformers accepts (`make_batched_videos`): one
video (a 4-D array or tensor, or a list of frames: PIL images, 3-D arrays or tensors, strings
naming images), a list of such videos, or a 5-D array or tensor.

    processor = LlavaNextVideoVideoProcessor.from_pretrained("path/to/checkpoint")
    batch = processor(videos=[frames_a, frames_b], return_tensors="pt")
    batch["pixel_values_videos"].shape  # (videos, frames, 3, height, width)

Options are saved as transformers 5 saves them: `video_preprocessor_config.json` on its own, or the
`video_processor` entry of `processor_config.json` when a whole processor is saved
(`VideoProcessorMixin`). Decoding video files (mp4, ...) is not supported: pass frames.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

from runtime.hub import read_json_file
from runtime.image_checks import ProcessorError
from runtime.image_processing_utils import PROCESSOR_NAME, BaseImageProcessor, BatchFeature
from runtime.processing_utils import ProcessorMixin

VIDEO_PROCESSOR_NAME = "video_preprocessor_config.json"
VIDEO_KEYS = ("video", "url", "path")  # where a video block of a chat message holds its video


class BaseVideoProcessor(BaseImageProcessor):
    """`BaseImageProcessor` whose samples are videos (one list of frames each); saved as a video processor."""

    model_input_names: ClassVar[list[str]] = ["pixel_values_videos"]

    def __call__(self, videos: Any, **kwargs: Any) -> BatchFeature:
        return self.preprocess(videos, **kwargs)

    def preprocess(self, videos: Any, return_tensors: str | None = None, **kwargs: Any) -> BatchFeature:
        """One list of frames per video, then the model's `_preprocess`; a 5-D batch is a list of videos."""
        if getattr(videos, "ndim", None) == 5:
            videos = list(videos)
        return super().preprocess(videos, return_tensors=return_tensors, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        config = super().to_dict()
        del config["image_processor_type"]
        return {**config, "video_processor_type": type(self).__name__}

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        Path(save_directory).mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        (Path(save_directory) / VIDEO_PROCESSOR_NAME).write_text(text, encoding="utf-8")

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, **hub_kwargs: Any) -> BaseVideoProcessor:
        """From `video_preprocessor_config.json`, else the `video_processor` entry of
        `processor_config.json`; the defaults when neither is there (checkpoints saved before
        transformers had video processors)."""
        config = read_json_file(path_or_repo_id, VIDEO_PROCESSOR_NAME, error=ProcessorError, **hub_kwargs)
        if config is not None:
            return cls.from_dict(config, str(Path(str(path_or_repo_id), VIDEO_PROCESSOR_NAME)))
        config = read_json_file(path_or_repo_id, PROCESSOR_NAME, error=ProcessorError, **hub_kwargs) or {}
        source = f"{Path(str(path_or_repo_id), PROCESSOR_NAME)}: video_processor"
        return cls.from_dict(config.get("video_processor", {}), source)


class VideoProcessorMixin(ProcessorMixin):
    """A processor with a video processor (`self.video_processor`) beside its image processor:
    loads and saves it as transformers 5 does, and passes the videos of chat messages'
    `{"type": "video", "video": frames}` blocks (`video`, `url` or `path` keys) to `__call__`."""

    video_processor_class: ClassVar[type[BaseVideoProcessor]]
    video_processor: BaseVideoProcessor

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, **hub_kwargs: Any) -> VideoProcessorMixin:
        processor = super().from_pretrained(path_or_repo_id, **hub_kwargs)
        processor.video_processor = cls.video_processor_class.from_pretrained(path_or_repo_id, **hub_kwargs)
        return processor

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        super().save_pretrained(save_directory)
        path = Path(save_directory) / PROCESSOR_NAME
        config = {**json.loads(path.read_text(encoding="utf-8")), "video_processor": self.video_processor.to_dict()}
        path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    def split_video_kwargs(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(options only the video processor takes, the others): an option both processors take
        (`size`, ...) goes to both, as transformers' shared keyword arguments do."""
        keys = (*self.video_processor.config_keys, *self.video_processor.call_only_keys)
        image_keys = (*self.image_processor.config_keys, *self.image_processor.call_only_keys)
        videos_kwargs = {key: value for key, value in kwargs.items() if key in keys}
        rest = {key: value for key, value in kwargs.items() if key not in keys or key in image_keys}
        return videos_kwargs, rest

    def apply_chat_template(self, conversation: Any, *args: Any, **kwargs: Any) -> Any:
        """The runtime's `apply_chat_template`; with `tokenize=True`, the videos of the messages'
        video blocks, in order, go to `__call__` as `videos` (unless `processor_kwargs` has some)."""
        chats = conversation if conversation and isinstance(conversation[0], (list, tuple)) else [conversation]
        videos = [video for chat in chats for video in videos_of(chat)]
        processor_kwargs = dict(kwargs.pop("processor_kwargs", None) or {})
        if videos and "videos" not in processor_kwargs:
            processor_kwargs["videos"] = videos
        return super().apply_chat_template(conversation, *args, processor_kwargs=processor_kwargs, **kwargs)

    @property
    def model_input_names(self) -> list[str]:
        return [*super().model_input_names, *self.video_processor.model_input_names]


def videos_of(chat: list[dict[str, Any]]) -> list[Any]:
    """The videos of a conversation's `{"type": "video", ...}` blocks, in order."""
    items = [item for message in chat if isinstance(message.get("content"), list) for item in message["content"]]
    blocks = [item for item in items if isinstance(item, dict) and item.get("type") == "video"]
    return [block[key] for block in blocks for key in VIDEO_KEYS if key in block]
