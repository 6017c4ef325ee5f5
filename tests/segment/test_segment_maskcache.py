"""The content-keyed cache of predicted masks (radsurv.segment.maskcache): a hit gives the
very mask ``predict`` gives (voxels, geometry, pixel type, the bytes written from it); a
changed image, network, setting or code misses; a broken entry is never read."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from radsurv.segment import maskcache
from radsurv.segment.baseline import BaselineSegmenter
from radsurv.segment.inference import segment_cohort
from radsurv.segment.maskcache import CachedSegmenter, mask_key
from radsurv.segment.metrics import dice
from radsurv.segment.unet import UNetSegmenter

from ._segment_synth import disc_case, make_image, sphere_case

PACKAGE = Path(maskcache.__file__).resolve().parents[1]

# A small 2D network that finds the disc (measured Dice 0.87-0.95 on the cases below).
SMALL_US = dict(spacing_mm=(0.3, 0.3), patch=(48, 48), channels=(8, 16, 32), strides=(2, 2), epochs=4,
                iterations_per_epoch=8, batch_size=4, learning_rate=5e-3, seed=0)


@pytest.fixture(scope="module")
def us_cases():
    return [disc_case(i) for i in range(16)]


@pytest.fixture(scope="module")
def unet(us_cases):
    torch.set_num_threads(1)
    return UNetSegmenter("us", device="cpu", **SMALL_US).fit([c[0] for c in us_cases[:12]],
                                                             [c[1] for c in us_cases[:12]])


@pytest.fixture(scope="module")
def unet_3d():
    torch.set_num_threads(1)
    cases = [sphere_case(i) for i in range(2)]
    seg = UNetSegmenter("mri", device="cpu", spacing_mm=(1.0, 1.0, 2.0), patch=(16, 16, 8), channels=(4, 8, 16),
                        strides=(2, 2), epochs=2, iterations_per_epoch=2, batch_size=2, threshold=0.3)
    return seg.fit([c[0] for c in cases], [c[1] for c in cases]), sphere_case(5)[0]


class _Counting:
    """Counts the wrapped segmenter's ``predict`` calls."""

    def __init__(self, monkeypatch, cls):
        self.calls = 0
        real = cls.predict

        def predict(seg, image):
            self.calls += 1
            return real(seg, image)

        monkeypatch.setattr(cls, "predict", predict)


def _written(image: sitk.Image, path: Path) -> str:
    sitk.WriteImage(image, str(path), True)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _same_image(a: sitk.Image, b: sitk.Image) -> None:
    np.testing.assert_array_equal(sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(b))
    assert a.GetPixelID() == b.GetPixelID() == sitk.sitkUInt8
    assert a.GetSize() == b.GetSize() and a.GetSpacing() == b.GetSpacing()
    assert a.GetOrigin() == b.GetOrigin() and a.GetDirection() == b.GetDirection()


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.npz")) if folder.exists() else []


def test_a_second_call_reads_the_cache_and_gives_the_same_mask(unet, us_cases, tmp_path, monkeypatch):
    img, truth = us_cases[13]
    fresh = unet.predict(img)
    assert dice(fresh, truth) > 0.8, dice(fresh, truth)  # a real lesion mask, not an empty one
    counting = _Counting(monkeypatch, UNetSegmenter)
    first = CachedSegmenter(unet, tmp_path / "masks")
    a = first.predict(img)
    assert counting.calls == 1 and (first.hits, first.misses) == (0, 1)
    assert len(_entries(tmp_path / "masks")) == 1
    # a new wrapper (a hand run: the network loaded again) reads the entry, predicts nothing
    second = CachedSegmenter(UNetSegmenter.load(unet.save(tmp_path / "us.pt"), device="cpu"), tmp_path / "masks")
    b = second.predict(img)
    assert counting.calls == 1 and (second.hits, second.misses) == (1, 0)
    for got in (a, b):
        _same_image(got, fresh)
    assert _written(b, tmp_path / "b.nii.gz") == _written(fresh, tmp_path / "fresh.nii.gz")
    # the wrapper is the segmenter in every other respect
    assert second.params == unet.params and second.modality == "us" and second.best_epoch_ == unet.best_epoch_
    # a path and the image read from it have the same key
    path = tmp_path / "image.nii.gz"
    sitk.WriteImage(img, str(path))
    assert second.key(path) == second.key(sitk.ReadImage(str(path)))


def test_a_hit_keeps_the_geometry_of_a_3d_volume_and_a_one_slice_us_volume(unet, unet_3d, us_cases, tmp_path,
                                                                             monkeypatch):
    seg3d, volume = unet_3d
    one_slice = sitk.JoinSeries(us_cases[14][0])
    one_slice.SetOrigin((3.0, -2.0, 7.5))
    for seg, image in ((seg3d, volume), (unet, one_slice)):
        fresh = seg.predict(image)
        assert sitk.GetArrayFromImage(fresh).sum() > 0
        CachedSegmenter(seg, tmp_path / "masks").predict(image)
        counting = _Counting(monkeypatch, UNetSegmenter)
        hit = CachedSegmenter(seg, tmp_path / "masks").predict(image)
        assert counting.calls == 0
        _same_image(hit, fresh)
        assert hit.GetDirection() == image.GetDirection() and hit.GetSize() == image.GetSize()
        assert _written(hit, tmp_path / "hit.nii.gz") == _written(fresh, tmp_path / "fresh.nii.gz")
        monkeypatch.undo()


def test_a_changed_image_weight_setting_or_code_misses(unet, us_cases, tmp_path, monkeypatch):
    img = us_cases[13][0]
    cache = tmp_path / "masks"
    base = CachedSegmenter(unet, cache)
    cached = base.predict(img)
    counting = _Counting(monkeypatch, UNetSegmenter)

    # one voxel of the image
    arr = sitk.GetArrayFromImage(img)
    arr[0, 0] = arr[0, 0] + 1
    changed = sitk.GetImageFromArray(arr)
    changed.CopyInformation(img)
    # the image's spacing
    respaced = sitk.Image(img)
    respaced.SetSpacing((0.2, 0.2000001))
    for other in (changed, respaced):
        assert base.key(other) != base.key(img)
        out = base.predict(other)
        _same_image(out, unet.predict(other))
    assert counting.calls == 4  # two misses, two fresh predictions to compare with

    # one weight, by one ulp
    nudged = UNetSegmenter.load(unet.save(tmp_path / "us.pt"), device="cpu")
    with torch.no_grad():
        w = next(iter(nudged.model_.parameters()))
        w.view(-1)[0] = torch.nextafter(w.view(-1)[0], torch.tensor(np.inf))
    assert CachedSegmenter(nudged, cache).key(img) != base.key(img)

    # an inference setting: the threshold; the mask predicted again is the new setting's
    strict = UNetSegmenter.load(tmp_path / "us.pt", device="cpu")
    strict.params["threshold"] = 0.95
    calls = counting.calls
    strict_mask = CachedSegmenter(strict, cache).predict(img)
    assert counting.calls == calls + 1
    assert sitk.GetArrayFromImage(strict_mask).sum() < sitk.GetArrayFromImage(cached).sum()
    _same_image(strict_mask, strict.predict(img))

    # the device, torch's threads and the code
    cpu_key = base.key(img)
    with monkeypatch.context() as m:
        m.setattr(unet, "device", "cuda")
        assert base.key(img) != cpu_key
    torch.set_num_threads(2)
    assert base.key(img) != cpu_key
    torch.set_num_threads(1)
    assert base.key(img) == cpu_key
    monkeypatch.setattr(maskcache, "code_digest", lambda: "another version")
    assert CachedSegmenter(unet, cache).key(img) != cpu_key
    # and the same network, image and settings hit
    calls = counting.calls
    CachedSegmenter(unet, tmp_path / "masks2").predict(img)
    assert counting.calls == calls + 1


def test_a_broken_or_foreign_entry_is_never_read(tmp_path, monkeypatch):
    img, truth = disc_case(1, n=240, spacing=0.15, bright=False, radius_px=(30, 36))
    baseline = BaselineSegmenter("us")
    fresh = baseline.predict(img)
    assert dice(fresh, truth) > 0.98  # measured 0.989
    cached = CachedSegmenter(baseline, tmp_path / "masks")
    key = cached.key(img)
    entry = cached.path(key)
    cached.predict(img)
    good = entry.read_bytes()
    counting = _Counting(monkeypatch, BaselineSegmenter)

    # a truncated entry (a disk that filled up) and garbage: predicted again and replaced
    for broken in (good[: len(good) // 2], b"not a zip file"):
        entry.write_bytes(broken)
        calls = counting.calls
        _same_image(cached.predict(img), fresh)
        assert counting.calls == calls + 1
        assert entry.read_bytes() == good
    # another image's entry under this key's name is not taken for it
    other = disc_case(2, n=240, spacing=0.15, bright=False, radius_px=(30, 36))[0]
    cached.predict(other)
    entry.write_bytes(cached.path(cached.key(other)).read_bytes())
    calls = counting.calls
    _same_image(cached.predict(img), fresh)
    assert counting.calls == calls + 1 and entry.read_bytes() == good
    # an entry read under another key is refused
    assert maskcache._read(entry, "0" * 64) is None and maskcache._read(entry, key) is not None


def test_an_interrupted_write_leaves_no_entry(tmp_path, monkeypatch):
    img = disc_case(1, n=240, spacing=0.15, bright=False, radius_px=(30, 36))[0]
    cached = CachedSegmenter(BaselineSegmenter("us"), tmp_path / "masks")

    def half_written(fh, **arrays):
        fh.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt("stopped mid-way")

    with monkeypatch.context() as m:
        m.setattr(maskcache.np, "savez_compressed", half_written)
        with pytest.raises(KeyboardInterrupt):
            cached.predict(img)
    assert [p for p in (tmp_path / "masks").rglob("*") if p.is_file()] == []
    # the next call predicts and stores a whole entry
    _same_image(cached.predict(img), BaselineSegmenter("us").predict(img))
    assert len(_entries(tmp_path / "masks")) == 1 and cached.misses == 1


def test_cohort_inference_through_the_cache_writes_the_same_files(tmp_path, monkeypatch):
    """segment_cohort (threads, as the stage runs it) with a cold and a warm cache: the same
    table and the same bytes as without the cache; the warm run predicts nothing."""
    cases = [{"patient_id": f"P{i}", "image": disc_case(i, n=240, spacing=0.15, bright=False,
                                                        radius_px=(30, 36))[0]} for i in range(4)]
    blank = make_image(np.full((240, 240), 128, np.uint8), (0.15, 0.15))  # nothing to find
    cases.append({"patient_id": "P4", "image": blank})  # an empty prediction
    baseline = BaselineSegmenter("us")
    tables = {}
    for name, seg in (("plain", baseline), ("cold", CachedSegmenter(baseline, tmp_path / "masks")),
                      ("warm", CachedSegmenter(baseline, tmp_path / "masks"))):
        if name == "warm":
            monkeypatch.setattr(BaselineSegmenter, "predict", lambda *a: (_ for _ in ()).throw(AssertionError("predict")))
        tables[name] = segment_cohort(cases, seg, tmp_path / name, n_jobs=2, progress=False, policy="exclude",
                                      border_margin_mm=5.0)
    assert list(tables["plain"]["flag"]) == ["ok", "ok", "ok", "ok", "empty"]
    for name in ("cold", "warm"):
        for column in ("patient_id", "flag", "source", "reason", "action"):
            assert list(tables[name][column]) == list(tables["plain"][column]), (name, column)
        for row in tables["plain"].itertuples():
            mine = tmp_path / name / Path(row.auto_mask).name
            assert mine.read_bytes() == Path(row.auto_mask).read_bytes(), (name, row.patient_id)
    assert len(_entries(tmp_path / "masks")) == 5


def test_the_code_digest_covers_what_the_segmenters_import():
    """CODE_FILES holds the segmenters' modules and every radsurv module they import."""
    todo = ["segment/unet.py", "segment/baseline.py", "segment/maskcache.py"]
    seen: set[str] = set()
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        tree = ast.parse((PACKAGE / rel).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                base = Path(rel).parent
                for _ in range(node.level - 1):
                    base = base.parent
                target = base.joinpath(*(node.module or "").split(".")) if node.module else base
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("radsurv"):
                target = Path(*node.module.split(".")[1:])
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("radsurv.")]
                if not names:
                    continue
                target = Path(*names[0].split(".")[1:])
            else:
                continue
            for candidate in (target.with_suffix(".py"), target / "__init__.py"):
                if (PACKAGE / candidate).is_file():
                    todo.append(candidate.as_posix())
    # the package itself (radsurv.__version__ in the weights' key) holds no inference code
    seen -= {"__init__.py", "segment/__init__.py", "imaging/__init__.py"}
    assert seen <= set(maskcache.CODE_FILES), seen - set(maskcache.CODE_FILES)
    assert {"segment/unet.py", "segment/baseline.py", "segment/maskcache.py"} <= set(maskcache.CODE_FILES)
    assert mask_key(BaselineSegmenter("us"), disc_case(0)[0]) == mask_key(BaselineSegmenter("us"), disc_case(0)[0])
