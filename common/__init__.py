"""The suite's shared code, in layers (each imports only those below it; .importlinter checks it):

    cli.py       the command line (argparse), used by parts/ and scripts/ only
    report/      what the saved runs say: statements and verdicts
    experiments/ from a config to a report folder: pipelines and the run record
    render/ cnn/ pictures and tables; Part 5's PyTorch engine
    nn/          the numpy core, from scratch (numpy and the standard library only)
    data/        CIFAR-10 from any source, and the arrays the models train on
    console.py catalog.py files.py metrics.py errors.py paths.py   the base every layer may use
"""
