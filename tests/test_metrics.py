"""tinyseg.metrics on hand-made masks and logits whose answers are worked out by hand."""

import numpy as np
import pytest
import torch

from tinyseg.metrics import evaluate_classifier, evaluate_masks, overlap_counts, per_image_iou, rock_recall


def masks(*boxes, size=8):
    """An N×1×size×size boolean batch: one image per argument, each a list of (row0, row1, col0, col1) boxes."""
    out = torch.zeros(len(boxes), 1, size, size, dtype=torch.bool)
    for i, image in enumerate(boxes):
        for r0, r1, c0, c1 in image:
            out[i, 0, r0:r1, c0:c1] = True
    return out


# ---------------------------------------------------------------- per-image IoU and overlaps


def test_both_empty_is_a_perfect_answer_and_one_empty_is_zero():
    empty, rock = masks([]), masks([(2, 4, 2, 4)])
    assert per_image_iou(empty, empty).tolist() == [1.0]  # no rock predicted, none there
    assert per_image_iou(empty, rock).tolist() == [0.0]  # a rock missed
    assert per_image_iou(rock, empty).tolist() == [0.0]  # a rock invented
    assert per_image_iou(rock, rock).tolist() == [1.0]


def test_partial_overlaps_by_hand():
    pred = masks(
        [(0, 4, 0, 4)],  # 16 px
        [(0, 2, 0, 8)],  # 16 px
        [(0, 8, 0, 8)],  # everything: 64 px
        [(0, 1, 0, 1), (7, 8, 7, 8)],
    )  # two single pixels
    truth = masks(
        [(2, 6, 0, 4)],  # 16 px, rows 2–3 shared: 8 px
        [(4, 6, 0, 8)],  # disjoint
        [(3, 5, 3, 5)],  # 4 px inside
        [(0, 1, 0, 1)],
    )  # one of the two
    iou = per_image_iou(pred, truth)
    assert iou == pytest.approx([8 / 24, 0.0, 4 / 64, 1 / 2])
    inter, union = overlap_counts(pred, truth)
    assert inter.tolist() == [8, 0, 4, 1] and union.tolist() == [24, 32, 64, 2]
    # summed over images the counts give the whole-set IoU, which is not the mean of the per-image IoUs
    assert inter.sum() / union.sum() == pytest.approx(13 / 122)
    assert inter.sum() / union.sum() != pytest.approx(iou.mean())


def test_iou_is_symmetric_and_reads_any_mask_type():
    pred, truth = masks([(0, 4, 0, 4)], [(1, 3, 1, 7)]), masks([(2, 6, 0, 4)], [])
    assert per_image_iou(pred, truth) == pytest.approx(per_image_iou(truth, pred))
    assert per_image_iou(pred.to(torch.uint8), truth.to(torch.uint8)) == pytest.approx([8 / 24, 0.0])
    assert per_image_iou(pred.float(), truth.long()) == pytest.approx([8 / 24, 0.0])


@pytest.mark.parametrize("shape", [(8, 8), (1, 8, 8)])
def test_one_mask_without_batch_dimensions_gives_an_array_of_one(shape):
    pred, truth = masks([(0, 4, 0, 4)])[0, 0], masks([(2, 6, 0, 4)])[0, 0]
    iou = per_image_iou(pred.reshape(shape), truth.reshape(shape))
    assert isinstance(iou, np.ndarray) and iou.shape == (1,) and iou[0] == pytest.approx(1 / 3)
    inter, union = overlap_counts(pred.reshape(shape), truth.reshape(shape))
    assert inter.tolist() == [8] and union.tolist() == [24]


# ---------------------------------------------------------------- whole-set metrics


def test_evaluate_masks_whole_set_and_per_image():
    truth = masks([(0, 4, 0, 4)], [(0, 2, 0, 8)], [])
    probs = torch.full(truth.shape, 0.1)
    probs[0, 0, 2:6, 0:4] = 0.9  # image 0: 8 of 24 px shared
    probs[1, 0, 0:2, 0:8] = 0.8  # image 1: exact
    out = evaluate_masks(probs, truth.long())  # image 2: no rock, none predicted
    m = out["metrics"]
    assert m["iou"] == pytest.approx((8 + 16) / (24 + 16))  # over all pixels, not a mean of images
    assert m["dice"] == pytest.approx(2 * 24 / (16 + 16 + 16 + 16))  # 2·TP / (|pred| + |truth|)
    assert m["pixel_acc"] == pytest.approx((192 - 16) / 192)  # 8 missed + 8 invented of 3·64
    assert m["background_share"] == pytest.approx(1 - 32 / 192)  # the score of "no rock anywhere"
    assert out["per_image_iou"] == pytest.approx([1 / 3, 1.0, 1.0])
    # the threshold decides what counts as rock
    out = evaluate_masks(probs, truth.long(), threshold=0.85)  # image 1's 0.8 no longer counts
    assert out["per_image_iou"] == pytest.approx([1 / 3, 0.0, 1.0]) and out["metrics"]["iou"] == pytest.approx(8 / 40)


def test_a_probability_on_the_threshold_is_read_the_same_way_by_both_metrics():
    """A probability of exactly 0.5 (a zero logit) is rock for the whole-set metrics and per image alike."""
    truth = torch.ones(1, 1, 4, 4, dtype=torch.long)
    out = evaluate_masks(torch.full((1, 1, 4, 4), 0.5), truth)
    assert out["metrics"]["iou"] == pytest.approx(out["per_image_iou"][0])


# ---------------------------------------------------------------- rocks found


def test_rock_recall_by_size_on_a_hand_made_mask():
    truth = torch.zeros(2, 1, 128, 128, dtype=torch.bool)
    pred = torch.zeros_like(truth)
    truth[0, 0, 0:2, 0:2] = True  # 4 px   (1–9): 2 px predicted = half → found
    pred[0, 0, 0, 0:2] = True
    truth[0, 0, 10:13, 10:13] = True  # 9 px   (1–9): 4 of 9 predicted → not found
    pred[0, 0, 10, 10:13] = True
    pred[0, 0, 11, 10] = True
    truth[0, 0, 20:24, 20:24] = True  # 16 px  (10–49): missed
    truth[0, 0, 40:50, 40:50] = True  # 100 px (50–199): 60 predicted → found
    pred[0, 0, 40:46, 40:50] = True
    truth[1, 0, 60:80, 60:80] = True  # 400 px (≥ 200), in the second image: 199 predicted → not found
    pred[1, 0, 60:69, 60:80] = True
    pred[1, 0, 69, 60:79] = True
    pred[1, 0, 100:128, 100:128] = True  # rock the truth does not mark: recall does not see it
    rows = rock_recall(pred, truth)
    assert [r["size"] for r in rows] == ["1–9 px", "10–49 px", "50–199 px", "≥ 200 px"]
    assert [(r["rocks"], r["found"]) for r in rows] == [(2, 0.5), (1, 0.0), (1, 1.0), (1, 0.0)]
    strict = rock_recall(pred, truth, min_found=0.6)
    assert [r["found"] for r in strict] == [0.0, 0.0, 1.0, 0.0]  # 2/4 < 0.6; 60/100 still counts


def test_rock_recall_without_rocks_has_no_shares():
    empty = torch.zeros(3, 1, 16, 16, dtype=torch.bool)
    rows = rock_recall(empty | True, empty)  # everything predicted, nothing to find
    assert [r["rocks"] for r in rows] == [0, 0, 0, 0] and all(np.isnan(r["found"]) for r in rows)


# ---------------------------------------------------------------- classification


def test_evaluate_classifier_by_hand():
    names = ["cat", "dog", "fox"]
    targets = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])
    predicted = torch.tensor([0, 0, 0, 1, 1, 0, 1, 1])  # cat 3/4, dog 1/2, fox 0/2
    logits = torch.nn.functional.one_hot(predicted, 3).float() * 5
    logits[6, 2] = 2.0  # a second guess does not change the top-1 answer
    ev = evaluate_classifier(logits, targets, names)
    assert ev.metrics["top1"] == pytest.approx(4 / 8)
    assert ev.metrics["top5"] == pytest.approx(1.0)  # top-5 of 3 classes holds every class
    assert ev.per_class.tolist() == pytest.approx([3 / 4, 1 / 2, 0.0])
    assert ev.confusion.tolist() == [[3, 1, 0], [1, 1, 0], [0, 2, 0]]  # rows: true class
    assert ev.metrics["macro_f1"] == pytest.approx(np.mean([2 * 3 / (4 + 4), 2 * 1 / (2 + 4), 0.0]))
    assert ev.class_table(n=2) == [{"class": "cat", "accuracy": 0.75}, {"class": "dog", "accuracy": 0.5}]
    assert ev.class_table(n=1, worst=True) == [{"class": "fox", "accuracy": 0.0}]
    top = ev.confused_pairs(n=2)
    assert top[0] == {"true": "fox", "predicted": "dog", "count": 2, "share_of_true": 1.0}
    assert {(r["true"], r["predicted"]) for r in ev.confused_pairs(n=3)} == {
        ("fox", "dog"),
        ("cat", "dog"),
        ("dog", "cat"),
    }
