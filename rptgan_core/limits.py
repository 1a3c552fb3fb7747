"""Every size that a file, a pose, a request or a node input can set, bounded in one place.

Each bound is checked before anything of that size is allocated, and each is
a few times what real models, photos and pose files need, far short of what
would exhaust a machine's memory. Checkpoints, pose files and images are
things people download or upload to a server, so none of them is trusted to
be reasonable. ``docs/architecture.md`` lists these with their reasons.
"""

from __future__ import annotations

# Networks a model config may declare (the presets use widths <= 256, 9 blocks, 256x176).
MAX_CHANNELS = 2048
MAX_RES_BLOCKS = 64
MAX_STAGES = 8
MAX_IMAGE_SIDE = 2048  # of the model's canvas
MAX_IDENTITIES = 100_000

# Images: Pillow's own decompression-bomb threshold, about 1 GB as float32 RGB, for every
# format and bit depth; also what an image may grow to when padded to an aspect ratio.
MAX_IMAGE_PIXELS = 89_478_485

# Pose JSON: a 16K canvas, a crowd, minutes of video at 60 fps.
MAX_CANVAS_SIDE = 16384
MAX_PEOPLE = 100
MAX_POSE_FRAMES = 20_000
MAX_EXTRA_POINTS = 1_000  # face (70) and hands (21) are far fewer
MAX_JSON_BYTES = 64 * 2**20  # a 20,000-frame pose sequence is about 10 MB
MAX_POSE_FILE_BYTES = 4 * 2**20  # a pose saved to the library is one frame: a few KB
MAX_SAVED_POSES = 1000

# Checkpoints: the safetensors JSON header (names, shapes, offsets and the config).
MAX_CHECKPOINT_HEADER_BYTES = 100 * 2**20

# Video and frame batches.
MAX_VIDEO_FRAMES = 100_000
MAX_FRAME_PIXELS = 4096 * 4096
MAX_CLIP_FRAMES = 2000
MAX_CLIP_BYTES = 4 * 2**30  # a clip read whole into an IMAGE batch, float32
MAX_PREVIEW_BYTES = 2**30  # a pose sequence's preview IMAGE, float32: larger ones are drawn smaller

# Fine-tuning on one person.
MAX_FINETUNE_FRAMES = 2000
MAX_FINETUNE_STEPS = 100_000

# The live preview route.
MAX_REQUEST_BYTES = 2**20  # one frame of pose JSON is a few KB
MAX_SOURCE_PIXELS = 4096 * 4096  # the editor's source image; the model sees it at its own canvas
MAX_WAITING = 8  # requests queued behind the one running, across every editor
MAX_EDITORS = 256  # editors whose newest request number is remembered
