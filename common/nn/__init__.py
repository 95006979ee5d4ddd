"""A from-scratch numpy neural-network core: layers, activations, losses, initializers,
optimizers, a multilayer perceptron and its training loop. No autograd anywhere."""
