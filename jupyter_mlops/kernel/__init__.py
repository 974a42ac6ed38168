"""Kernel side of jupyter-mlops: the public Python API, the ``%mlops`` magics and widgets.

Modules here may import IPython (lazily); importing the package itself costs
nothing beyond this docstring.
"""
