"""The upstream benchmark unpacks the whole transformers package once, unpacks again a cache of an
older layout, and gives the scratch tree its library modules beside `models/`.
Run: python -m pytest tests/utils/test_bench_upstream_setup.py -q
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from types import ModuleType


def fake_wheel(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("transformers/modeling_layers.py", "class GradientCheckpointingLayer:\n    pass\n")
        archive.writestr("transformers/generation/utils.py", "class GenerationMixin:\n    pass\n")
        archive.writestr("transformers/models/sam/modeling_sam.py", "class SamModel:\n    pass\n")
        archive.writestr("transformers-0.dist-info/METADATA", "")
    return path


def test_the_cache_holds_the_whole_package_and_an_old_layout_is_unpacked_again(
    bench: ModuleType, tmp_path: Path
) -> None:
    wheel = fake_wheel(tmp_path / "transformers.whl")
    stale = tmp_path / f"unpacked-{bench.VERSION}-{bench.UNPACK_LAYOUT}"
    (stale / "transformers" / "models").mkdir(parents=True)
    (stale / ".complete").touch()  # an older marker, without the layout in it
    models = bench.unpack_models(wheel, tmp_path)
    assert models == stale / "transformers" / "models"
    assert (models / "sam" / "modeling_sam.py").is_file()
    assert (models.parent / "modeling_layers.py").is_file()
    assert not (stale / "transformers-0.dist-info").exists()
    assert (stale / ".complete").read_text(encoding="utf-8") == bench.UNPACK_LAYOUT


def test_the_scratch_tree_copies_models_and_links_the_library_beside_it(bench: ModuleType, tmp_path: Path) -> None:
    models = bench.unpack_models(fake_wheel(tmp_path / "transformers.whl"), tmp_path / "cache")
    scratch_dir = tmp_path / "scratch"
    scratch_dir.mkdir()
    scratch = bench.scratch_tree(models, scratch_dir)
    assert scratch == scratch_dir / "models" and not scratch.is_symlink()
    assert (scratch / "sam" / "modeling_sam.py").read_text(encoding="utf-8") == "class SamModel:\n    pass\n"
    assert (scratch_dir / "modeling_layers.py").is_symlink()
    assert (scratch.parent / "generation" / "utils.py").is_file()
