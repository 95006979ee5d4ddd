"""Part 5: models and their ablations, augmentation, a training step, checkpoints, resume, eval, recipes."""
from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch

from common.cli import run_main
from common.cnn import training as TT
from common.cnn.models import (
    ABLATIONS,
    ImprovedCNN,
    SimpleCNN,
    build_model,
    count_parameters,
    dense_equivalent_parameters,
    layer_summary,
)
from common.errors import CheckpointError, UserError
from parts import part5
from tests.helpers import TINY_CNN, report_recipe


@pytest.mark.parametrize("cls, parameters", [(SimpleCNN, 545_098), (ImprovedCNN, 3_249_610)])
def test_models_shapes_and_parameter_counts(cls, parameters):
    model = cls()
    assert model(torch.zeros(4, 3, 32, 32)).shape == (4, 10)
    assert count_parameters(model) == parameters
    rows = layer_summary(model)
    assert sum(r["parameters"] for r in rows) == parameters
    assert rows[-1]["output_shape"] == [10]


def test_improved_cnn_is_the_specified_architecture():
    model = ImprovedCNN()
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256]
    assert all(c.bias is None and c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.features) == 6
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in model.features) == 3
    fc1 = model.classifier[1]
    assert (fc1.in_features, fc1.out_features, fc1.bias) == (4096, 512, None)
    assert isinstance(model.classifier[2], torch.nn.BatchNorm1d) and model.classifier[4].p == 0.5
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet")


# Counted by hand: without BatchNorm the six convs gain biases (+896) and FC1 its bias (+512) while the
# 2 x 896 + 2 x 512 BatchNorm weights go (-2,816); without the third block FC1 sees 128 x 8 x 8 inputs.
@pytest.mark.parametrize("ablation, parameters, batchnorms, dropouts, convs", [
    ("none", 3_249_610, 7, 1, 6), ("no-batchnorm", 3_248_202, 0, 1, 6), ("no-dropout", 3_249_610, 7, 0, 6),
    ("no-third-block", 4_461_002, 5, 1, 4)])
def test_ablations_remove_one_change_each_and_train_a_step(ablation, parameters, batchnorms, dropouts, convs):
    torch.manual_seed(0)
    model = build_model("improved", ablation)
    modules = list(model.modules())
    assert count_parameters(model) == parameters
    assert sum(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for m in modules) == batchnorms
    assert sum(isinstance(m, torch.nn.Dropout) for m in modules) == dropouts
    assert sum(isinstance(m, torch.nn.Conv2d) for m in modules) == convs
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model.eval()
    before = torch.nn.functional.cross_entropy(model(x), y).item()
    model.train()
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    model.eval()
    assert torch.nn.functional.cross_entropy(model(x), y).item() < before
    assert set(ABLATIONS) == {"none", "no-batchnorm", "no-dropout", "no-third-block"}
    with pytest.raises(ValueError, match="needs --model improved"):
        build_model("simple", "no-dropout")


def test_one_training_step_lowers_the_loss():
    torch.manual_seed(0)
    model = SimpleCNN()
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = torch.nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    assert torch.nn.functional.cross_entropy(model(x), y).item() < before.item()


def test_random_crop_flip_moves_pixels_but_keeps_them():
    images = torch.arange(2 * 3 * 32 * 32, dtype=torch.int64).reshape(2, 3, 32, 32).remainder(251).to(torch.uint8)
    shifts, flips = TT.draw_crop_flip(2, torch.Generator().manual_seed(0))
    assert shifts.shape == (2, 2) and shifts.min() >= 0 and shifts.max() <= 8 and flips.dtype == torch.bool
    out = TT.random_crop_flip(images, shifts, flips)
    assert out.shape == images.shape and out.dtype == torch.uint8
    # a shift of (pad, pad) is the original image, the flag alone mirrors it
    centred = torch.full((2, 2), 4)
    assert torch.equal(TT.random_crop_flip(images, centred, torch.tensor([False, True])),
                       torch.stack([images[0], images[1].flip(2)]))
    # a shift of (0, 1) moves the image 4 rows down and 3 columns right, reflecting at the border
    moved = TT.random_crop_flip(images, torch.tensor([[0, 0], [1, 1]]), torch.tensor([False, False]))
    assert torch.equal(moved[:, :, 4:, 3:], images[:, :, :28, :29])
    assert torch.equal(moved[:, :, 3, 3:], images[:, :, 1, :29])  # row -1 mirrors row 1


def test_cutout_zeroes_one_square_per_image_clipped_at_the_border():
    images = torch.ones(64, 3, 32, 32)
    centres = TT.draw_cutout_centres(64, torch.Generator().manual_seed(0))
    assert centres.shape == (2, 64) and centres.min() >= 0 and centres.max() < 32
    out = TT.cutout(images, 8, centres)
    holes = out[:, 0] == 0
    assert torch.equal(holes, (out == 0).all(1))  # the same pixels in every channel
    sizes = holes.sum((1, 2))
    assert sizes.max() == 64 and sizes.min() > 0  # 8 x 8 inside, smaller where clipped
    for hole in holes:  # each hole is one axis-aligned rectangle
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert hole.sum() == len(rows) * len(cols) and len(rows) <= 8 and len(cols) <= 8
        assert rows.diff().eq(1).all() and cols.diff().eq(1).all()
    corner = TT.cutout(torch.ones(1, 1, 32, 32), 8, torch.tensor([[0], [31]]))[0, 0] == 0
    assert corner[:4, 27:].all() and corner.sum() == 4 * 5  # rows -4..3, columns 27..34 clipped


def test_batches_keep_channels_last_with_cutout():
    data = TT.DeviceData(torch.randint(0, 256, (10, 32, 32, 3), dtype=torch.uint8).numpy(),
                         torch.arange(10).numpy(), torch.device("cpu"))
    images, labels = next(data.batches(10, shuffle=True, augment=True, channels_last=True,
                                       generator=torch.Generator().manual_seed(0), cutout_size=8))
    assert images.is_contiguous(memory_format=torch.channels_last) and images.dtype == torch.float32
    assert ((images == 0).all(1).sum((1, 2)) > 0).all() and sorted(labels.tolist()) == list(range(10))


def test_tta_averages_the_logits_of_each_image_and_its_mirror():
    class LeftHalf(torch.nn.Module):  # a "model" that is not mirror-symmetric
        def forward(self, x):
            return torch.stack([x[..., :16].mean((1, 2, 3)), x[..., 16:].mean((1, 2, 3))], 1)

    images = torch.zeros(4, 32, 32, 3, dtype=torch.uint8)
    images[:, :, :16] = 255  # bright left half: plain evaluation predicts class 0 with certainty
    data = TT.DeviceData(images.numpy(), torch.ones(4, dtype=torch.int64).numpy(), torch.device("cpu"))
    plain_loss, plain_acc, _ = TT.evaluate(LeftHalf(), data, TT.CNNConfig(channels_last=False))
    tta_loss, _, _ = TT.evaluate(LeftHalf(), data, TT.CNNConfig(channels_last=False, tta=True))
    assert plain_acc == 0.0 and plain_loss > 1.0
    assert tta_loss == pytest.approx(float(torch.log(torch.tensor(2.0))), abs=1e-6)  # mirror averages to a tie


def test_checkpoint_round_trip_is_bit_exact(tmp_path):
    model = ImprovedCNN()
    model(torch.randn(4, 3, 32, 32))  # move BatchNorm running statistics away from their start
    path = tmp_path / "c.pt"
    config = TT.CNNConfig(model="improved").as_dict()
    TT.save_checkpoint(path, {"config": config, "epoch": 1, "best_model": model.state_dict(), "history": []})
    restored = TT.model_from_checkpoint(TT.load_checkpoint(path, expected_model="improved"), torch.device("cpu"))
    for (name, a), (_, b) in zip(model.state_dict().items(), restored.state_dict().items()):
        assert torch.equal(a, b), name
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_bad_checkpoints_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        TT.load_checkpoint(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError, match="corrupt"):
        TT.load_checkpoint(corrupt)
    simple = tmp_path / "simple.pt"
    TT.save_checkpoint(simple, {"config": TT.CNNConfig(model="simple").as_dict(),
                                "best_model": SimpleCNN().state_dict()})
    with pytest.raises(CheckpointError, match="holds a simple model, not improved"):
        TT.load_checkpoint(simple, expected_model="improved")
    state = TT.load_checkpoint(simple)
    state["config"]["model"] = "improved"  # weights of another architecture under the wrong name
    with pytest.raises(CheckpointError, match="do not fit improved"):
        TT.model_from_checkpoint(state, torch.device("cpu"))
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a Part 5 checkpoint"):
        TT.load_checkpoint(foreign)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"format": TT.CHECKPOINT_FORMAT, "config": Payload()}, path, pickle_protocol=pickle.HIGHEST_PROTOCOL)
    with pytest.raises(CheckpointError, match="refused|corrupt"):
        TT.load_checkpoint(path)
    assert not marker.exists()


def test_cuda_without_cuda_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="no CUDA GPU"):
        TT.pick_device("cuda")
    assert TT.pick_device("auto").type in ("cpu", "mps")
    assert run_main(part5.main, part5.build_parser(), ["--device", "cuda"]) == 2
    assert "error: --device cuda was asked for" in capsys.readouterr().err


def test_recipes_and_overrides():
    parser = part5.build_parser()
    args = parser.parse_args(["--recipe", "quick", "--lr", "0.05", "--no-augment"])
    configs = part5.configs_for(args, part5.RECIPES["quick"])
    assert configs["improved"].epochs == 6 and configs["simple"].epochs == 8
    assert configs["improved"].lr == 0.05 and configs["improved"].augment is False and configs["improved"].cutout == 8
    assert {c.recipe for c in configs.values()} == {"quick"}
    no_extras = part5.configs_for(parser.parse_args(["--cutout", "0", "--no-tta", "--model", "improved"]),
                                  part5.RECIPES["tuned"])
    assert list(no_extras) == ["improved"] and no_extras["improved"].cutout == 0 and not no_extras["improved"].tta
    report = part5.configs_for(parser.parse_args(["--report", "000"]), report_recipe("000", "part5"))["simple"]
    assert (report.epochs, report.optimizer, report.lr, report.batch_size) == (100, "adam", 1e-3, 128)
    assert (report.val_size, report.augment, report.schedule, report.recipe) == (0, False, "none", "report 000")
    from common.cli import with_variant  # a report's variant that changes one model trains that model only
    args = parser.parse_args(["--report", "000", "--variant", "simple-with-batchnorm"])
    recipe = report_recipe("000", "part5")
    variant = part5.configs_for(args, recipe, with_variant(args, "part5", recipe))
    assert list(variant) == ["simple"]
    assert (variant["simple"].ablation, variant["simple"].epochs) == ("with-batchnorm", 20)
    assert part5.resolve_recipe(parser.parse_args([]), torch.device("cpu")) == "quick"
    assert part5.resolve_recipe(parser.parse_args([]), torch.device("cuda")) == "tuned"
    with pytest.raises(UserError, match="needs --model improved"):
        part5.configs_for(parser.parse_args(["--ablation", "no-dropout"]), part5.RECIPES["tuned"])
    for bad in (["--lr", "0"], ["--label-smoothing", "1.5"], ["--schedule", "step"], ["--model", "vgg"],
                ["--ablation", "no-relu"], ["--recipe", "fast"], ["--recipe", "quick", "--report", "000"]):
        with pytest.raises(SystemExit) as caught:
            parser.parse_args(bad)
        assert caught.value.code == 2


@pytest.mark.parametrize("recipe", ["tuned", "report 000"])
def test_each_recipes_settings_reach_the_optimizer_and_the_model(recipe):
    config = report_recipe("000", "part5")["improved"] if recipe == "report 000" else part5.RECIPES[recipe]["improved"]
    model = build_model(config.model, config.ablation)
    optimizer = TT.make_optimizer(model, config)
    group = optimizer.param_groups[0]
    assert group["lr"] == config.lr and group["weight_decay"] == config.weight_decay
    if recipe == "report 000":  # Adam with lr 0.001 and no weight decay: AdamW with 0 is exactly Adam
        assert isinstance(optimizer, torch.optim.AdamW) and (group["lr"], group["weight_decay"]) == (1e-3, 0.0)
    else:
        assert isinstance(optimizer, torch.optim.SGD) and group["nesterov"] and group["momentum"] == 0.9
    scheduler = TT._scheduler(optimizer, config, steps_per_epoch=10)
    assert (scheduler is None) == (config.schedule == "none")


def tiny_data(n: int = 64, seed: int = 0) -> TT.DeviceData:
    generator = np.random.default_rng(seed)
    images = generator.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    return TT.DeviceData(images, generator.integers(0, 10, n), torch.device("cpu"))


def interrupt_after_epoch(monkeypatch, epoch: int) -> None:
    """Ctrl-C right after the checkpoint of ``epoch`` is written (an epoch boundary)."""
    real = TT.save_checkpoint

    def save_then_interrupt(path, state):
        real(path, state)
        if state["epoch"] == epoch:
            raise KeyboardInterrupt

    monkeypatch.setattr(TT, "save_checkpoint", save_then_interrupt)


@pytest.mark.parametrize("model", ["improved", "simple"])
def test_a_resumed_run_is_bit_identical_to_an_uninterrupted_one(model, tmp_path, monkeypatch):
    """ImprovedCNN's dropout draws from torch's global generator: a resume restores it (and numpy's and
    Python's) from the checkpoint instead of seeding it again, so the resumed epochs draw the same masks.
    Times after a resume cover every epoch of the history, not only those trained after it."""
    config = TT.CNNConfig(model=model, epochs=3, batch_size=32, val_size=0, amp=False, channels_last=False,
                          augment=True, cutout=4)
    train = tiny_data()
    _, straight = TT.train_cnn(config, train, None, torch.device("cpu"), tmp_path / "a.pt")
    with monkeypatch.context() as patch:  # not monkeypatch.undo(): that would also undo the isolated environment
        interrupt_after_epoch(patch, 1)
        _, first = TT.train_cnn(config, train, None, torch.device("cpu"), tmp_path / "b.pt")
    assert first.status == "incomplete" and len(first.history) == 1
    torch.manual_seed(1234)  # whatever the process drew in between must not matter
    np.random.seed(99)
    model_b, resumed = TT.train_cnn(config, train, None, torch.device("cpu"), tmp_path / "b.pt",
                                    resume=TT.load_checkpoint(tmp_path / "b.pt"))
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in straight.history]
    model_a = TT.model_from_checkpoint(TT.load_checkpoint(tmp_path / "a.pt"), torch.device("cpu"), "model")
    assert all(torch.equal(a, b) for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values()))
    assert resumed.train_seconds == pytest.approx(sum(h["seconds"] for h in resumed.history))
    assert resumed.images_per_second == pytest.approx(len(train) * 3 / resumed.train_seconds)


def test_an_early_stopped_run_is_complete_and_a_resume_trains_nothing_more(tmp_path, monkeypatch):
    config = TT.CNNConfig(model="simple", epochs=6, batch_size=32, val_size=10, patience=2, amp=False,
                          channels_last=False)
    accuracies = iter([0.5, 0.4, 0.45, 0.9, 0.9, 0.9])  # best at epoch 1, then 2 epochs without better: stop at 3
    monkeypatch.setattr(TT, "evaluate", lambda *a, **k: (1.0, next(accuracies), None))
    _, result = TT.train_cnn(config, tiny_data(), tiny_data(10, 1), torch.device("cpu"), tmp_path / "c.pt")
    assert [h["epoch"] for h in result.history] == [1, 2, 3] and "early stop after epoch 3" in result.note
    state = TT.load_checkpoint(tmp_path / "c.pt")
    assert state["complete"] and state["epoch"] == 3
    from common.experiments.cnn import result_from_checkpoint
    again = result_from_checkpoint(state)
    assert again.status == "complete" and "early stop after epoch 3" in again.note and len(again.history) == 3


def test_the_part_is_as_complete_as_its_least_complete_model():
    from common.experiments.cnn import part_status
    assert part_status(["diverged", "complete"], 2) == "diverged"
    assert part_status(["complete", "incomplete"], 2) == "incomplete"
    assert part_status(["complete"], 2) == "incomplete"  # a model never trained
    assert part_status(["complete", "complete"], 2) == "complete"




def test_train_interrupt_resume_and_eval(learnable_folder, tmp_path, monkeypatch, capsys):
    out = tmp_path / "p5"
    parser = part5.build_parser()
    real_evaluate = TT.evaluate
    calls = {"n": 0}

    def interrupt_second_validation(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(TT, "evaluate", interrupt_second_validation)
    args = parser.parse_args(["--data", str(learnable_folder), "--out", str(out), "--model", "simple",
                              "--epochs", "3", *TINY_CNN])
    assert part5.main(args) == 130
    metrics = json.loads((out / "simple" / "metrics.json").read_text())
    assert metrics["status"] == "incomplete" and len(metrics["history"]) == 1
    assert not TT.load_checkpoint(out / "simple" / "simple_cnn.pt")["complete"]
    capsys.readouterr()
    assert part5.main(parser.parse_args(["--data", str(learnable_folder), "--out", str(out), "--model", "simple",
                                         "--epochs", "3", "--resume", "--estimate", *TINY_CNN])) == 0
    assert json.loads(capsys.readouterr().out)["what"].startswith("2 epochs of SimpleCNN (a checkpoint has done 1)")

    monkeypatch.setattr(TT, "evaluate", real_evaluate)
    args = parser.parse_args(["--data", str(learnable_folder), "--out", str(out), "--model", "simple",
                              "--epochs", "3", "--resume", *TINY_CNN])
    assert part5.main(args) == 0
    metrics = json.loads((out / "simple" / "metrics.json").read_text())
    assert metrics["status"] == "complete" and [h["epoch"] for h in metrics["history"]] == [1, 2, 3]
    assert metrics["parameters"] == 545_098 and metrics["throughput"]["train_images_per_second"] > 0
    for name in ("confusion_matrix.png", "loss_curve.png", "per_class_accuracy.png", "model_summary.md",
                 "predictions.npz", "summary.md"):
        assert (out / "simple" / name).stat().st_size > 0
    top = json.loads((out / "metrics.json").read_text())
    assert top["models"]["SimpleCNN"]["test_accuracy"] == metrics["test"]["accuracy"]
    assert "The models side by side" in (out / "summary.md").read_text()

    (out / "simple" / "confusion_matrix.png").unlink()
    def args_list(out):
        return ["--data", str(learnable_folder), "--eval", str(out / "simple" / "simple_cnn.pt"), "--no-progress"]

    assert part5.main(parser.parse_args(args_list(out))) == 0
    assert (out / "simple" / "confusion_matrix.png").exists()
    evaluated = json.loads((out / "simple" / "metrics.json").read_text())
    assert evaluated["test"]["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert evaluated["config"]["tta"] is True  # the quick profile's; --no-tta evaluates without it
    assert part5.main(parser.parse_args([*args_list(out), "--no-tta"])) == 0
    assert json.loads((out / "simple" / "metrics.json").read_text())["config"]["tta"] is False


def test_a_run_cut_short_never_replaces_a_complete_one(learnable_folder, tmp_path, monkeypatch):
    out, parser = tmp_path / "p5", part5.build_parser()
    argv = ["--data", str(learnable_folder), "--out", str(out), "--no-figures", "--train-subset", "128", *TINY_CNN]
    assert part5.main(parser.parse_args([*argv, "--epochs", "1"])) == 0
    names = ("metrics.json", "summary.md", "improved/metrics.json", "improved/predictions.npz",
             "improved/improved_cnn.pt")  # its figures and make part5-eval read the checkpoint
    kept = {name: (out / name).read_bytes() for name in names}
    real_evaluate, side = TT.evaluate, out / "improved" / "improved_cnn.next.pt"

    def interrupt_once_improved_saved_an_epoch(*args, **kwargs):
        if side.exists():
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(TT, "evaluate", interrupt_once_improved_saved_an_epoch)
    assert part5.main(parser.parse_args([*argv, "--epochs", "3"])) == 130  # SimpleCNN done, ImprovedCNN cut
    assert {name: (out / name).read_bytes() for name in names} == kept and side.is_file()
    monkeypatch.setattr(TT, "evaluate", real_evaluate)
    simple = (out / "simple" / "simple_cnn.pt").read_bytes()  # finished its 3 epochs in the run cut short
    assert part5.main(parser.parse_args([*argv, "--epochs", "3", "--resume"])) == 0  # continues from the side file
    record = json.loads((out / "metrics.json").read_text())
    assert record["status"] == "complete" and record["models"]["ImprovedCNN"]["epochs_run"] == 3
    assert (out / "simple" / "simple_cnn.pt").read_bytes() == simple  # reported as it was, not trained again
    assert not side.exists() and TT.load_checkpoint(out / "improved" / "improved_cnn.pt")["epoch"] == 3


def test_eval_of_a_missing_checkpoint_exits_2(tmp_path, capsys):
    assert run_main(part5.main, part5.build_parser(), ["--eval", str(tmp_path / "none.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_quick_profile_on_real_images(real_source, real_data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR10_DATA_DIR", str(real_data_dir))
    out = tmp_path / "p5"
    args = part5.build_parser().parse_args(["--data", real_source, "--out", str(out), "--recipe", "quick",
                                            "--epochs", "1", "--train-subset", "300", "--val-size", "200",
                                            "--no-progress", "--device", "cpu", "--no-figures", "--no-tta",
                                            "--model", "simple"])  # ImprovedCNN on 10,000 test images: 3 TFLOP
    assert part5.main(args) == 0
    top = json.loads((out / "metrics.json").read_text())
    assert set(top["models"]) == {"SimpleCNN"}
    assert top["recipe"] == "quick" and top["environment"]["device"] == "cpu"
    simple = json.loads((out / "simple" / "metrics.json").read_text())
    assert simple["figures"] == {} and not list((out / "simple").glob("*.png"))  # make report draws them


def test_forward_flops_count_every_multiply_add_twice():
    from common.cnn.models import forward_flops
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 32 * 32, 10))
    assert forward_flops(model) == 2 * (3 * 9) * (4 * 32 * 32) + 2 * 4096 * 10
    convs = [(3, 64, 32), (64, 64, 32), (64, 128, 16), (128, 128, 16), (128, 256, 8), (256, 256, 8)]  # in, out, side
    by_hand = sum(2 * c_in * 9 * c_out * side * side for c_in, c_out, side in convs) + 2 * (4096 * 512 + 512 * 10)
    assert forward_flops(ImprovedCNN()) == by_hand == 309_733_376


def test_the_compiled_forward_is_off_on_a_cpu_and_falls_back_to_eager_when_compiling_fails(monkeypatch, caplog):
    config = TT.CNNConfig()
    assert TT.compile_mode(config, torch.device("cpu")) is None
    assert TT.compile_mode(config, torch.device("cuda")) == "reduce-overhead"
    assert TT.compile_mode(TT.CNNConfig(compile="off"), torch.device("cuda")) is None
    assert TT.compile_mode(TT.CNNConfig(compile="default"), torch.device("cpu")) == "default"

    def broken(*args, **kwargs):
        raise RuntimeError("no compiler for this device")

    monkeypatch.setattr(torch, "compile", lambda model, mode=None: broken)
    model = SimpleCNN()
    forward = TT.TrainingForward(model, "reduce-overhead")
    x = torch.randn(2, 3, 32, 32)
    with caplog.at_level("WARNING", logger="cifar"):
        out = forward(x)
    assert torch.equal(out, model(x)) and forward.compiled is None
    assert "torch.compile (mode reduce-overhead) failed (RuntimeError: no compiler" in caplog.text
    with pytest.raises(UserError, match="unknown compile 'fast'"):
        TT.CNNConfig(compile="fast")


def test_fused_optimizers_only_on_cuda():
    optimizer = TT.make_optimizer(SimpleCNN(), TT.CNNConfig(optimizer="sgd"))
    assert not optimizer.param_groups[0].get("fused")


def test_a_resume_with_other_code_or_precision_is_refused_and_segments_say_what_ran(tmp_path, monkeypatch):
    """Issue 24: one run, one code and one arithmetic; each stretch of epochs records its commit and precision."""
    config = TT.CNNConfig(model="simple", epochs=3, batch_size=32, val_size=0, amp=False, channels_last=False)
    train = tiny_data()
    with monkeypatch.context() as patch:  # not monkeypatch.undo(): that would also undo the isolated environment
        interrupt_after_epoch(patch, 1)
        TT.train_cnn(config, train, None, torch.device("cpu"), tmp_path / "s.pt", code_version="abc")
    state = TT.load_checkpoint(tmp_path / "s.pt")
    assert state["segments"] == [{"first_epoch": 1, "last_epoch": 1, "commit": "abc", "precision": "fp32",
                                  "device": "cpu"}]
    with pytest.raises(CheckpointError, match="with commit abc, and this run would go on with def"):
        TT.train_cnn(config, train, None, torch.device("cpu"), tmp_path / "s.pt", resume=state, code_version="def")
    _, result = TT.train_cnn(config, train, None, torch.device("cpu"), tmp_path / "s.pt", resume=state,
                             code_version="abc")
    assert [(s["first_epoch"], s["last_epoch"]) for s in result.segments] == [(1, 1), (2, 3)]
    assert TT.CNNSolver(TT.CNNConfig(model="simple", amp=True), train, torch.device("cpu"), tmp_path / "x.pt",
                        code_version="abc").precision in ("bf16 autocast", "fp32")  # bf16 only where the CPU has it


def test_the_reports_recipe_trains_in_fp32_as_the_report_did():
    assert {config.amp for config in report_recipe("000", "part5").values()} == {False}
    assert part5.RECIPES["tuned"]["improved"].amp  # bf16 is this suite's speed setting


def test_dense_equivalents_count_what_a_fully_connected_layer_of_the_same_sizes_needs():
    rows = dense_equivalent_parameters(SimpleCNN())
    conv1 = rows[0]  # 3x32x32 in, 32x32x32 out: 32 filters of 3x3x3 plus biases, reused at every position
    assert (conv1["inputs"], conv1["outputs"], conv1["parameters"]) == (3072, 32 * 32 * 32, 32 * 27 + 32)
    assert conv1["dense"] == 3072 * 32768 + 32768
    assert rows[-1] == {"layer": "Linear", "inputs": 128, "outputs": 10, "parameters": 1290, "dense": 1290}
    assert sum(r["parameters"] for r in rows) == count_parameters(SimpleCNN())  # no other parameters
