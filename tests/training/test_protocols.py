"""The field's protocols against references computed the way PATN's and GFLA's scripts compute them.

The references are written here, test-local, following the peers' steps with
scikit-image, scipy, PIL, torchvision, pytorch-fid and lpips (test-only
packages); the project computes the same numbers with its own code. Images are
SyntheticPeople renders (synthetic people) and noise.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from skimage.draw import disk, polygon
from skimage.io import imread
from skimage.metrics import structural_similarity
from skimage.morphology import dilation, erosion
from torchvision.models import inception_v3

from rptgan_core.training.data import DatasetError
from rptgan_core.training.metrics import (
    LPIPS,
    FeatureStatistics,
    InceptionMetrics,
    body_mask,
    frechet_distance,
    masked_ssim,
)
from rptgan_core.training.protocols import (
    PATN_PANELS,
    as_written,
    find_result,
    get_protocol,
    image_folder_batches,
    inception_images,
    patn_vis,
    quantise_as_written,
    read_result,
    ssim_scores,
)
from rptgan_core.training.synthetic import render_sample


def _pairs(count: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(generated-like, target, target keypoints): a person in one pose against the same person in another."""
    generated = np.stack([render_sample(5, i, 0, height, width).image for i in range(count)])
    samples = [render_sample(5, i, 1, height, width) for i in range(count)]
    return generated, np.stack([s.image for s in samples]), np.stack([s.pose.keypoints[0] for s in samples])


# PATN's getMetrics_*.py, step by step ----------------------------------------------


def _patn_ssim(generated: np.ndarray, reference: np.ndarray) -> float:
    return structural_similarity(reference, generated, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 channel_axis=-1, data_range=generated.max() - generated.min())


def _add_bounding(image: np.ndarray, bound: int = 40) -> np.ndarray:
    out = (np.ones((image.shape[0], image.shape[1] + 2 * bound, 3)) * 255).astype(np.uint8)
    out[:, bound:bound + image.shape[1]] = image
    return out


_PATN_MASK_LIMBS = np.array([[2, 3], [2, 6], [3, 4], [4, 5], [6, 7], [7, 8], [2, 9], [9, 10], [10, 11], [2, 12],
                             [12, 13], [13, 14], [2, 1], [1, 15], [15, 17], [1, 16], [16, 18], [2, 17], [2, 18],
                             [9, 12], [12, 6], [9, 3], [17, 18]]) - 1


def _patn_mask(yx: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """produce_ma_mask's steps: (18, 2) integer (y, x), -1 missing."""
    mask = np.zeros(shape, dtype=bool)
    for f, t in _PATN_MASK_LIMBS:
        if (yx[f] == -1).any() or (yx[t] == -1).any():
            continue
        normal = yx[f] - yx[t]
        normal = np.array([-normal[1], normal[0]])
        normal = 4 * normal / np.linalg.norm(normal)
        corners = np.array([yx[f] + normal, yx[f] - normal, yx[t] - normal, yx[t] + normal])
        rr, cc = polygon(corners[:, 0], corners[:, 1], shape=shape)
        mask[rr, cc] = True
    for joint in yx:
        if (joint == -1).any():
            continue
        rr, cc = disk((joint[0], joint[1]), radius=4, shape=shape)
        mask[rr, cc] = True
    return erosion(dilation(mask, np.ones((5, 5), bool)), np.ones((5, 5), bool))


def _to_patn_yx(keypoints: np.ndarray) -> np.ndarray:
    yx = np.round(keypoints[:, [1, 0]]).astype(int)
    yx[keypoints[:, 2] <= 0] = -1
    return yx


def _patn_keypoints(yx: np.ndarray) -> np.ndarray:
    """The project's (18, 3) (x, y, confidence) for PATN's integer (y, x), as read_patn_annotations reads them."""
    points = np.zeros((18, 3), np.float32)
    for i, (y, x) in enumerate(yx):
        if y >= 0 and x >= 0:
            points[i] = (x, y, 1)
    return points


def test_patn_ssim_uses_each_generated_images_range_and_pads_deepfashion():
    generated, target, keypoints = _pairs(6, 256, 176)
    rng = np.random.default_rng(1)
    noisy = np.clip(target.astype(int) + rng.integers(-40, 40, target.shape), 0, 255).astype(np.uint8)
    dim = (generated.astype(np.float32) * 0.6 + 30).astype(np.uint8)  # a range well under 255
    images = np.concatenate([generated, noisy, dim])
    targets = np.concatenate([target, target, target])
    points = np.concatenate([keypoints] * 3)
    ours = ssim_scores(images, targets, points, "deepfashion", "patn")["ssim"]
    reference = [_patn_ssim(_add_bounding(g), _add_bounding(t)) for g, t in zip(images, targets)]
    assert np.abs(ours - reference).max() < 1e-4
    # GFLA's ssim_256: the same call on the unpadded images, as float32 0..255 values
    gfla = ssim_scores(images, targets, points, "deepfashion", "gfla")["ssim"]
    gfla_reference = [_patn_ssim(g.astype(np.float32), t.astype(np.float32)) for g, t in zip(images, targets)]
    assert np.abs(gfla - gfla_reference).max() < 1e-4
    # the range matters: the plain protocol (range 255) differs on the dim images
    plain = ssim_scores(images, targets, points, "deepfashion", "plain")["ssim"]
    assert np.abs(plain[12:] - ours[12:]).min() > 1e-3


def test_patn_mask_equals_produce_ma_mask_and_masked_ssim_matches():
    rng = np.random.default_rng(2)
    generated, target, keypoints = _pairs(8, 128, 64)
    yx_sets = [_to_patn_yx(k) for k in keypoints]
    for _ in range(6):  # random skeletons with missing joints and points on the border
        yx = np.stack([rng.integers(0, 128, 18), rng.integers(0, 64, 18)], axis=1)
        yx[rng.random(18) < 0.25] = -1
        yx_sets.append(yx)
    for yx in yx_sets:
        ours = body_mask(_patn_keypoints(yx), 128, 64)
        assert np.array_equal(ours.astype(bool), _patn_mask(yx, (128, 64)))
    points = np.stack([_patn_keypoints(yx) for yx in yx_sets[:8]])
    ours = masked_ssim(generated, target, points, per_image_range=True)
    reference = []
    for g, t, yx in zip(generated, target, yx_sets[:8]):
        mask = _patn_mask(yx, (128, 64))[..., None]
        reference.append(_patn_ssim(g * mask, t * mask))
    assert np.abs(ours - reference).max() < 1e-4
    market = ssim_scores(generated, target, points, "market", "patn")
    assert np.abs(market["masked_ssim"] - reference).max() < 1e-4


def test_patn_inception_score_images_are_padded_gfla_and_plain_not():
    images = np.zeros((2, 256, 176, 3), np.uint8)
    assert inception_images(images, "deepfashion", "patn").shape == (2, 256, 256, 3)
    assert inception_images(images, "deepfashion", "gfla").shape == (2, 256, 176, 3)
    assert inception_images(images, "market", "patn").shape == (2, 256, 176, 3)
    with pytest.raises(ValueError, match="protocol must be one of"):
        get_protocol("dptn")


# the result files PATN's and GFLA's test scripts write --------------------------------


def test_patn_vis_jpeg_is_what_patn_scores(tmp_path):
    rng = np.random.default_rng(3)
    generated, target, keypoints = _pairs(2, 256, 176)
    floats = [a.astype(np.float32) / 255 for a in (generated, target, generated[::-1])]
    noise = np.clip(floats[0] + rng.normal(0, 0.02, floats[0].shape).astype(np.float32), 0, 1)
    written = as_written("patn", floats[2], floats[1], noise, keypoints, keypoints)
    # the reference: PATN's writer saves the 5-panel image with PIL (default quality), getMetrics reads it back
    vis = patn_vis(floats[2], floats[1], noise, keypoints, keypoints)
    assert vis.shape == (2, 256, 5 * 176, 3)
    for i in range(2):
        path = tmp_path / f"a{i}.jpg___b{i}.jpg_vis.jpg"
        Image.fromarray(vis[i]).save(path)
        read = imread(path)
        width = read.shape[1] // 5
        assert np.array_equal(written.generated[i], read[:, 4 * width:5 * width])
        assert np.array_equal(written.target[i], read[:, 2 * width:3 * width])
        # the folder reader finds and cuts the same file
        result = find_result(str(tmp_path), f"a{i}.jpg", f"b{i}.jpg")
        assert result.panels == PATN_PANELS
        panels = read_result(result)
        assert np.array_equal(panels.generated, written.generated[i])
        assert np.array_equal(panels.target, written.target[i])
    # truncation, not rounding, and JPEG: the written images are not the rounded ones
    assert quantise_as_written(np.array([0.999, 0.5, 1.0], np.float32)).tolist() == [254, 127, 255]
    assert not np.array_equal(written.generated, np.round(noise * 255).astype(np.uint8))


def test_gfla_results_are_single_images_named_from_2_to(tmp_path):
    image = render_sample(0, 0, 0, 64, 48).image
    Image.fromarray(image).save(tmp_path / "a_2_b_vis.jpg")
    result = find_result(str(tmp_path), "a.jpg", "b.jpg")
    assert result.panels == 1 and result.path.endswith("a_2_b_vis.jpg")
    read = read_result(result)
    assert read.target is None and read.generated.shape == image.shape
    with pytest.raises(DatasetError, match=r"a\.jpg___c\.jpg_vis\.jpg"):
        find_result(str(tmp_path), "a.jpg", "c.jpg")


# Inception, FID and LPIPS against the reference implementations ------------------------------


def test_inception_input_is_torchvisions_transform_input_path(tmp_path):
    torch.manual_seed(0)
    network = inception_v3(weights=None, aux_logits=True, init_weights=True, transform_input=True).eval()
    path = tmp_path / "inception.safetensors"
    save_file(network.state_dict(), str(path))
    images = np.stack([render_sample(0, i, 0, 64, 48).image for i in range(2)])
    _, logits = InceptionMetrics(path).features_and_logits(images)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    x = torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = network((x - mean) / std).double().numpy()
    assert np.abs(logits - expected).max() < 1e-4 * np.abs(expected).max()


def test_fid_inception_equals_pytorch_fid_on_the_same_weights(tmp_path, monkeypatch):
    pytorch_fid_inception = pytest.importorskip("pytorch_fid.inception")
    from pytorch_fid.fid_score import calculate_frechet_distance

    torch.manual_seed(1)
    state = inception_v3(weights=None, aux_logits=False, init_weights=True, num_classes=1008).state_dict()
    monkeypatch.setattr(pytorch_fid_inception, "load_state_dict_from_url", lambda *a, **k: state)
    reference = pytorch_fid_inception.InceptionV3([3]).eval()
    path = tmp_path / "pt_inception.safetensors"
    save_file(state, str(path))
    metrics = InceptionMetrics(path)
    assert metrics.fid_inception
    images = np.stack([render_sample(2, i, 0, 64, 48).image for i in range(3)])
    features, logits = metrics.features_and_logits(images)
    with torch.no_grad():
        expected = reference(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255)[0].flatten(1).double()
    assert logits.shape == (3, 1008)
    assert np.abs(features - expected.numpy()).max() < 1e-4 * np.abs(expected.numpy()).max()
    # the Fréchet distance of accumulated statistics is pytorch-fid's
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 16)), rng.normal(size=(200, 16)) * 1.5 + 0.3
    stats_a = FeatureStatistics.from_batches([a[:100], a[100:]])
    assert np.allclose(stats_a.covariance, np.cov(a, rowvar=False)) and np.allclose(stats_a.mean, a.mean(0))
    expected_fid = calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert frechet_distance(stats_a, b) == pytest.approx(expected_fid, rel=1e-6)


def test_lpips_equals_the_lpips_package_v0_1(tmp_path):
    lpips = pytest.importorskip("lpips")
    torch.manual_seed(2)
    reference = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False).eval()
    trunk = {}
    for name, tensor in reference.net.state_dict().items():  # slice<k>.<index>.<param> -> features.<index>.<param>
        _, index, param = name.split(".")
        trunk[f"features.{index}.{param}"] = tensor
    trunk_path, lins_path = tmp_path / "alexnet.safetensors", tmp_path / "lpips.safetensors"
    save_file(trunk, str(trunk_path))
    lins = {k: v.clone() for k, v in reference.state_dict().items() if k.startswith("lin") and not k.startswith("lins")}
    save_file(lins, str(lins_path))
    generated, target, _ = _pairs(4, 256, 176)
    ours = LPIPS(trunk_path, lins_path).score(generated, target)
    with torch.no_grad():
        to_tensor = lambda a: torch.from_numpy(a.astype(np.float32) / 127.5 - 1).permute(0, 3, 1, 2)  # noqa: E731
        expected = reference(to_tensor(generated), to_tensor(target)).flatten().double().numpy()
    assert np.abs(ours - expected).max() < 1e-4


def test_fid_statistics_of_a_training_folder(tmp_path):
    for i in range(5):
        Image.fromarray(render_sample(4, i, 0, 64, 48).image).save(tmp_path / f"{i}.png")
    Image.fromarray(render_sample(4, 9, 0, 32, 24).image).save(tmp_path / "small.png")
    batches = list(image_folder_batches(str(tmp_path), batch_size=2))
    assert [b.shape[0] for b in batches] == [2, 2, 1, 1] and batches[-1].shape[1:3] == (32, 24)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        next(image_folder_batches(str(tmp_path / "empty"), 2))


# evaluate.py with the protocols ---------------------------------------------------------------


def test_evaluate_reads_patn_vis_files_and_scores_them_as_getmetrics(synthetic_root, tmp_path, load_script, capsys):
    import json
    import os

    from rptgan_core.training.data import read_patn_split

    evaluate = load_script("evaluate")
    pairs = read_patn_split(synthetic_root, "test")
    folder = tmp_path / "patn"
    folder.mkdir()
    expected = []
    for record in pairs.pairs:  # a "generator" that returns the source: PATN's writer, then getMetrics' reading
        source, target = (np.asarray(Image.open(p).convert("RGB")) for p in (record.source, record.target))
        floats = [a[None].astype(np.float32) / 255 for a in (source, target)]
        vis = patn_vis(floats[0], floats[1], floats[0], record.source_keypoints[None], record.target_keypoints[None])
        path = folder / f"{os.path.basename(record.source)}___{os.path.basename(record.target)}_vis.jpg"
        Image.fromarray(vis[0]).save(path)
        read = imread(path)
        width = read.shape[1] // 5
        expected.append(_patn_ssim(read[:, 4 * width:], read[:, 2 * width:3 * width]))
    evaluate.main(["--generated", str(folder), "--data", synthetic_root, "--protocol", "patn", "--json"])
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scores["protocol"] == "patn" and scores["pairs"] == len(pairs)
    assert abs(scores["ssim"] - float(np.mean(expected))) < 1e-4


def test_evaluate_a_checkpoint_as_patn_writes_it(synthetic_root, tmp_path, load_script, capsys):
    import json

    from rptgan_core.checkpoint import save_checkpoint
    from rptgan_core.config import get_config
    from rptgan_core.networks import build_generator

    evaluate = load_script("evaluate")
    checkpoint = tmp_path / "tiny.safetensors"
    torch.manual_seed(0)
    save_checkpoint(checkpoint, build_generator(get_config("tiny")))
    results = {}
    for extra in ([], ["--as-written"]):
        evaluate.main(["--checkpoint", str(checkpoint), "--data", synthetic_root, "--device", "cpu", "--json",
                       "--protocol", "patn", "--convention", "market", *extra])
        results[bool(extra)] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 < results[True]["ssim"] < 1 and 0 < results[True]["masked_ssim"] <= 1
    assert results[True]["ssim"] != results[False]["ssim"]  # JPEG and truncation change the number
    with pytest.raises(SystemExit, match="--as-written apply to --checkpoint"):
        evaluate.main(["--generated", str(tmp_path), "--data", synthetic_root, "--as-written"])


def test_tf_resize_is_tf1_resize_bilinear_without_half_pixel_centres():
    from rptgan_core.training.metrics import tf_resize_bilinear

    row = torch.tensor([0.0, 10.0]).view(1, 1, 1, 2)
    # TF1: out[i] = in[i * 2 / 4] interpolated: 0, 5, 10, 10 (the last clamps); torch's half-pixel rule differs
    assert tf_resize_bilinear(row, (1, 4)).flatten().tolist() == [0.0, 5.0, 10.0, 10.0]
    image = torch.rand(1, 3, 299, 299)
    assert torch.equal(tf_resize_bilinear(image, (299, 299)), image)
    down = tf_resize_bilinear(torch.arange(6.0).view(1, 1, 1, 6), (1, 4))  # coordinates 0, 1.5, 3, 4.5
    assert down.flatten().tolist() == [0.0, 1.5, 3.0, 4.5]


def test_inception_score_cuts_folds_as_inception_score_py(tmp_path):
    torch.manual_seed(3)
    state = inception_v3(weights=None, aux_logits=False, init_weights=True, num_classes=1008).state_dict()
    path = tmp_path / "pt_inception.safetensors"
    save_file(state, str(path))
    metrics = InceptionMetrics(path)
    images = np.stack([render_sample(6, i, 0, 64, 48).image for i in range(5)])
    features, logits = metrics.features_and_logits(images, tf_graph=True)
    without_bias = features @ state["fc.weight"].double().numpy().T
    assert np.allclose(logits, without_bias, rtol=1e-4, atol=1e-4 * np.abs(logits).max())
    probs = torch.from_numpy(logits).softmax(1).numpy()
    expected = []
    for i in range(2):  # PATN's inception_score.py, splits=2: folds [0, 2) and [2, 5)
        part = probs[i * 5 // 2:(i + 1) * 5 // 2]
        kl = part * (np.log(part + 1e-12) - np.log(part.mean(0, keepdims=True) + 1e-12))
        expected.append(np.exp(np.mean(np.sum(kl, 1))))
    mean, std = metrics.inception_score(images, splits=2)
    assert mean == pytest.approx(np.mean(expected), rel=1e-6)
    assert std == pytest.approx(np.std(expected), rel=1e-6, abs=1e-9)
    tv = tmp_path / "tv.safetensors"
    save_file(inception_v3(weights=None, aux_logits=False, init_weights=True).state_dict(), str(tv))
    with pytest.raises(ValueError, match="FID-Inception"):
        InceptionMetrics(tv).features_and_logits(images, tf_graph=True)


def test_evaluate_gfla_computes_fid_against_the_training_images(synthetic_root, tmp_path, load_script, capsys):
    import json
    import os
    import shutil

    from rptgan_core.training.data import read_patn_split

    evaluate = load_script("evaluate")
    torch.manual_seed(5)
    weights = tmp_path / "pt_inception.safetensors"
    save_file(inception_v3(weights=None, aux_logits=False, init_weights=True, num_classes=1008).state_dict(),
              str(weights))
    pairs = read_patn_split(synthetic_root, "test")
    folder = tmp_path / "gfla"
    folder.mkdir()
    for record in pairs.pairs:  # GFLA's names: <from stem>_2_<to stem>_vis.png
        stem = lambda p: os.path.splitext(os.path.basename(p))[0]  # noqa: E731
        shutil.copy(record.target, folder / f"{stem(record.source)}_2_{stem(record.target)}_vis.png")
    evaluate.main(["--generated", str(folder), "--data", synthetic_root, "--protocol", "gfla",
                   "--inception-weights", str(weights), "--json"])
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    metrics = InceptionMetrics(weights)
    targets = np.stack([np.asarray(Image.open(r.target).convert("RGB")) for r in pairs.pairs])
    training = metrics.statistics(image_folder_batches(os.path.join(synthetic_root, "train")))
    assert scores["fid"] == pytest.approx(metrics.fid(targets, training), rel=1e-6)
    assert scores["fid"] > 0 and scores["ssim"] == pytest.approx(1.0)
