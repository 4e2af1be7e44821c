# nbgrader's configuration for the student's JupyterLab (`python -m tinytorch_course.lab` puts this folder first on
# JUPYTER_CONFIG_PATH). Without an exchange folder the Assignment List is empty instead of showing errors; with one,
# nbgrader's own lister runs (tinytorch_course/exchange.py). An instructor's exchange settings still apply.
c = get_config()  # noqa: F821 -- injected by traitlets when it loads this file
c.ExchangeFactory.list = "tinytorch_course.exchange.StudentExchangeList"
