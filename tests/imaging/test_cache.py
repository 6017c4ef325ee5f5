"""The content-keyed cache of the twin's image files (radsurv.imaging.cache)."""

from __future__ import annotations

import ast
import hashlib
import os
from pathlib import Path

import pandas as pd
import pytest

from radsurv.imaging import cache
from radsurv.imaging import twin as imaging_twin
from radsurv.imaging.twin import write_cohort_images, write_devset

PACKAGE = Path(cache.__file__).resolve().parents[1]


@pytest.fixture()
def latents() -> pd.DataFrame:
    return pd.DataFrame({"patient_id": ["TW001", "TW/002", "TW003"], "center": [1, 2, 3],
                         "a_img": [-1.0, 0.5, 2.0], "b_img": [0.3, -1.2, 1.0], "size_mm": [8.0, 9.0, 7.0],
                         "mri_bpe": ["minimal", None, "marked"]})


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _entries(cache_dir: Path) -> list[str]:
    return sorted(p.name for p in cache_dir.iterdir()) if cache_dir.exists() else []


def test_a_hit_links_the_same_bytes_and_gives_the_same_table(tmp_path, latents, monkeypatch):
    fresh = write_cohort_images(latents, tmp_path / "fresh" / "images", seed=42, n_jobs=1, progress=False)
    cache_dir = tmp_path / "cache"
    first = cache.cached_cohort_images(latents, tmp_path / "a" / "images", cache_dir, seed=42, n_jobs=1,
                                       progress=False)
    assert _entries(cache_dir) == [f"images-{cache.cohort_key(latents, None, 42)}"]
    with monkeypatch.context() as m:
        m.setattr(imaging_twin, "_simulate_patient", lambda *a, **k: (_ for _ in ()).throw(AssertionError("sim")))
        m.setattr(imaging_twin, "write_cohort_images", lambda *a, **k: (_ for _ in ()).throw(AssertionError("sim")))
        # n_jobs is not in the key
        second = cache.cached_cohort_images(latents, tmp_path / "b" / "images", cache_dir, seed=42, n_jobs=2,
                                            progress=False)
    pd.testing.assert_frame_equal(first, fresh)
    pd.testing.assert_frame_equal(second, fresh)
    expected = _files(tmp_path / "fresh")
    assert len(expected) == 3 * 2 * 3
    assert _files(tmp_path / "a") == expected and _files(tmp_path / "b") == expected
    # hard links to the one cached copy
    entry = cache_dir / _entries(cache_dir)[0] / "files"
    for rel in expected:
        cached = entry / rel.removeprefix("images/")
        assert os.path.samefile(cached, tmp_path / "b" / rel)
    # a hit over existing files replaces them (a second hand run), the table unchanged
    again = cache.cached_cohort_images(latents, tmp_path / "b" / "images", cache_dir, seed=42, progress=False)
    pd.testing.assert_frame_equal(again, fresh)
    assert _files(tmp_path / "b") == expected


def test_root_is_honoured_on_a_hit(tmp_path, latents):
    one = latents.iloc[:1]
    cache.cached_cohort_images(one, tmp_path / "x" / "images", tmp_path / "cache", seed=1, progress=False,
                               modalities=("us",))
    fresh = write_cohort_images(one, tmp_path / "y" / "deep" / "images", seed=1, progress=False, root=tmp_path,
                                modalities=("us",))
    hit = cache.cached_cohort_images(one, tmp_path / "z" / "deep" / "images", tmp_path / "cache", seed=1,
                                     progress=False, root=tmp_path, modalities=("us",))
    assert list(hit.columns) == list(fresh.columns)
    assert hit["us_image"].tolist() == ["z/deep/images/us/TW001_image.nii.gz"]
    assert fresh["us_image"].tolist() == ["y/deep/images/us/TW001_image.nii.gz"]


def test_copies_where_linking_fails(tmp_path, latents, monkeypatch):
    one = latents.iloc[:1]
    cache.cached_cohort_images(one, tmp_path / "a" / "images", tmp_path / "cache", seed=1, progress=False,
                               modalities=("us",))

    def cannot_link(src, dst):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(cache.os, "link", cannot_link)
    cache.cached_cohort_images(one, tmp_path / "b" / "images", tmp_path / "cache", seed=1, progress=False,
                               modalities=("us",))
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    target = tmp_path / "b" / "images" / "us" / "TW001_image.nii.gz"
    assert target.stat().st_nlink == 1


CHANGES = {
    "seed": lambda lat: (lat, None, 43, None, ("us", "mri")),
    "latent": lambda lat: (lat.assign(b_img=[0.3, -1.2, 1.0 + 1e-12]), None, 42, None, ("us", "mri")),
    "patient_id": lambda lat: (lat.assign(patient_id=["TW001", "TW/002", "TW004"]), None, 42, None, ("us", "mri")),
    "order": lambda lat: (lat.iloc[::-1].reset_index(drop=True), None, 42, None, ("us", "mri")),
    "mri_bpe": lambda lat: (lat.assign(mri_bpe=["minimal", "mild", "marked"]), None, 42, None, ("us", "mri")),
    "scanner": lambda lat: (lat, {3: {"us": {"gain_db": 4.0}}}, 42, None, ("us", "mri")),
    "phenotype": lambda lat: (lat, None, 42, {"border_margin_mm": 9.0}, ("us", "mri")),
    "modalities": lambda lat: (lat, None, 42, None, ("us",)),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_every_input_is_in_the_key(latents, change):
    base = cache.cohort_key(latents, None, 42)
    lat, scanners, seed, phenotype, modalities = CHANGES[change](latents)
    assert cache.cohort_key(lat, scanners, seed, phenotype=phenotype, modalities=modalities) != base


def test_spelled_out_defaults_and_dtypes_do_not_change_the_key(latents):
    from radsurv.imaging.scanners import DEFAULT_SCANNERS

    base = cache.cohort_key(latents, None, 42)
    assert cache.cohort_key(latents, {str(c): v for c, v in DEFAULT_SCANNERS.items()}, 42) == base
    assert cache.cohort_key(latents.assign(center=latents["center"].astype("int32")), None, 42) == base
    assert cache.cohort_key(latents.assign(mri_bpe=["minimal", float("nan"), "marked"]), None, 42) == base


def test_a_changed_input_misses_and_simulates(tmp_path, latents, monkeypatch):
    """A changed seed, latent, scanner setting or code digest simulates again."""
    one = latents.iloc[:1]
    cache_dir = tmp_path / "cache"

    def run(name, **kwargs):
        args = {"seed": 42, "n_jobs": 1, **kwargs}
        return cache.cached_cohort_images(one, tmp_path / name / "images", cache_dir, progress=False,
                                          modalities=("us",), **args)

    run("base")
    calls = []
    real = imaging_twin._simulate_patient
    monkeypatch.setattr(imaging_twin, "_simulate_patient", lambda *a, **k: calls.append(1) or real(*a, **k))
    run("same")
    assert calls == []
    for name, kwargs in {"seed": {"seed": 43}, "scanner": {"scanners": {1: {"us": {"gain_db": 4.0}}}}}.items():
        run(name, **kwargs)
        assert calls == [1], name
        calls.clear()
    one = one.assign(a_img=[-0.9])
    run("latent")
    assert calls == [1]
    calls.clear()
    monkeypatch.setattr(cache, "code_digest", lambda: "another version")
    one = latents.iloc[:1]
    run("code")
    assert calls == [1]
    assert len(_entries(cache_dir)) == 5
    assert _files(tmp_path / "base") == _files(tmp_path / "same") == _files(tmp_path / "code")
    assert _files(tmp_path / "base") != _files(tmp_path / "seed")


def test_the_code_digest_covers_what_the_simulators_import():
    """CODE_FILES holds the simulating modules and everything they import from radsurv."""
    todo = ["imaging/twin.py", "imaging/simulate_us.py", "imaging/simulate_mri.py", "imaging/scanners.py",
            "imaging/_common.py"]
    seen: set[str] = set()
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        tree = ast.parse((PACKAGE / rel).read_text(encoding="utf-8"))
        here = Path(rel).parent
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                base = here
                for _ in range(node.level - 1):
                    base = base.parent
                parts = (node.module or "").split(".") if node.module else []
                target = base.joinpath(*parts)
                for candidate in (target.with_suffix(".py"), target / "__init__.py"):
                    if (PACKAGE / candidate).is_file():
                        todo.append(candidate.as_posix())
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n == "radsurv" or n.startswith("radsurv.") for n in names), rel
    seen.discard("imaging/__init__.py")
    assert seen <= set(cache.CODE_FILES)
    assert "imaging/cache.py" in cache.CODE_FILES


def test_an_interrupted_fill_leaves_no_entry(tmp_path, latents, monkeypatch):
    cache_dir = tmp_path / "cache"
    real = imaging_twin._simulate_patient
    done = []

    def flaky(patient, *args, **kwargs):
        if done:
            raise KeyboardInterrupt("stopped mid-way")
        done.append(patient["patient_id"])
        return real(patient, *args, **kwargs)

    monkeypatch.setattr(imaging_twin, "_simulate_patient", flaky)
    with pytest.raises(KeyboardInterrupt):
        cache.cached_cohort_images(latents, tmp_path / "a" / "images", cache_dir, seed=42, n_jobs=1,
                                   progress=False)
    assert done == ["TW001"] and _entries(cache_dir) == []
    assert not (tmp_path / "a").exists()
    # a killed run leaves its temporary folder at most: never taken for an entry
    key = cache.cohort_key(latents, None, 42)
    leftover = cache_dir / f".tmp-images-{key[:16]}-1-deadbeef" / "files"
    leftover.mkdir(parents=True)
    (leftover.parent / "table.json").write_text('{"columns": [], "rows": []}\n')
    # and a folder by the entry's name without its table is no entry either
    (cache_dir / f"images-{key}" / "files").mkdir(parents=True)
    monkeypatch.setattr(imaging_twin, "_simulate_patient", real)
    table = cache.cached_cohort_images(latents, tmp_path / "b" / "images", cache_dir, seed=42, n_jobs=1,
                                       progress=False)
    fresh = write_cohort_images(latents, tmp_path / "fresh" / "images", seed=42, n_jobs=1, progress=False)
    pd.testing.assert_frame_equal(table, fresh)
    assert _files(tmp_path / "b") == _files(tmp_path / "fresh")
    assert (cache_dir / f"images-{key}" / "table.json").is_file()


def test_devsets_are_cached_by_their_parameters(tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    kwargs = {"seed": 5, "n_jobs": 1, "progress": False, "root": tmp_path, "centers": (1, 3)}
    fresh = write_devset("us", 2, tmp_path / "fresh" / "us", **kwargs)
    first = cache.cached_devset("us", 2, tmp_path / "a" / "us", cache_dir, **kwargs)
    pd.testing.assert_frame_equal(first.assign(image=fresh["image"], mask=fresh["mask"],
                                               reader_mask=fresh["reader_mask"]), fresh)
    assert first["image"].str.startswith("a/us/").all()
    calls = []
    real = imaging_twin._simulate_patient
    monkeypatch.setattr(imaging_twin, "_simulate_patient", lambda *a, **k: calls.append(1) or real(*a, **k))
    second = cache.cached_devset("us", 2, tmp_path / "b" / "us", cache_dir, **kwargs)
    assert calls == []
    pd.testing.assert_frame_equal(second, first.assign(**{c: first[c].str.replace("a/", "b/", n=1)
                                                          for c in ("image", "mask", "reader_mask")}))
    assert _files(tmp_path / "fresh") == _files(tmp_path / "a") == _files(tmp_path / "b")
    base = cache.devset_key("us", 2, None, 5, centers=(1, 3))
    assert cache.devset_key("us", 2, None, 5, centers=[3, 1]) == base
    for other in (cache.devset_key("us", 3, None, 5, centers=(1, 3)), cache.devset_key("us", 2, None, 5),
                  cache.devset_key("mri", 2, None, 5, centers=(1, 3)), cache.devset_key("us", 2, None, 6, centers=(1, 3)),
                  cache.devset_key("us", 2, None, 5, centers=(1, 3), latents={"median_mm": 20.0}),
                  cache.devset_key("us", 2, {1: {"us": {"gain_db": 4.0}}}, 5, centers=(1, 3))):
        assert other != base


def test_add_twin_images_with_a_cache_matches_without(tmp_path, paper_profile, monkeypatch):
    from radsurv.cohort.twin import TwinCohort, add_twin_images

    truth = pd.DataFrame({"patient_id": ["TW1", "TW2"], "center": [1, 3], "a": [0.0, 1.0], "b": [0.0, -1.0],
                          "a_img": [0.0, 1.0], "b_img": [0.0, -1.0], "size_mm": [8.0, 7.0], "size_img": [8.0, 7.0]})
    twin = TwinCohort(manifest=truth[["patient_id", "center"]].assign(mri_bpe=["mild", "minimal"]), truth=truth)
    img = {**paper_profile["imaging"], "development": {"us": {"n": 1}, "mri": {"n": 1}, "centers": [1]}}
    plain = add_twin_images(twin, img, tmp_path / "plain", seed=3, n_jobs=1)
    cached = add_twin_images(twin, img, tmp_path / "one", seed=3, n_jobs=1, cache_dir=tmp_path / "cache")
    assert sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "cache").iterdir()) == [
        "devset-mri", "devset-us", "images"]
    monkeypatch.setattr(imaging_twin, "_simulate_patient", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    again = add_twin_images(twin, img, tmp_path / "two", seed=3, n_jobs=1, cache_dir=tmp_path / "cache")
    for out in (cached, again):
        pd.testing.assert_frame_equal(out.manifest, plain.manifest)
        pd.testing.assert_frame_equal(out.truth, plain.truth)
        assert list(out.development) == list(plain.development) == ["us", "mri"]
        for m in out.development:
            pd.testing.assert_frame_equal(out.development[m], plain.development[m])
    assert _files(tmp_path / "plain") == _files(tmp_path / "one") == _files(tmp_path / "two")
