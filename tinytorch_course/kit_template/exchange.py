"""The Assignment List of the student's JupyterLab when no nbgrader exchange is set up: empty, not an error.

nbgrader's own lister fails when the exchange folder is missing, and its Assignment List then shows the same error
in each of its three panels. Without an exchange there is nothing to fetch or submit (README, step 7), so this
lister says so once, in JupyterLab's log, and lists nothing: the Assignment List shows "No courses found.".
Where an instructor set up an exchange (the folder exists), it is nbgrader's lister, unchanged.
Configured by jupyter_config/nbgrader_config.py, which `python -m tinytorch_course.lab` puts first.
"""

import os

from nbgrader.exchange.default import ExchangeList


class StudentExchangeList(ExchangeList):
    said_missing = False  # once per JupyterLab, not once per refresh

    def start(self):
        if os.path.isdir(self.root):
            return super().start()
        if not StudentExchangeList.said_missing:
            StudentExchangeList.said_missing = True
            self.log.warning(
                "No nbgrader exchange at %s: the Assignment List stays empty; hand in as your instructor says.",
                self.root,
            )
        return []
