"""The top floor: the root URLs and the pages that read across every feature app (the inbox, the
billing map). It may import everything; nothing below imports it. (healthchecks calls its
dashboard app `front` too.)"""
