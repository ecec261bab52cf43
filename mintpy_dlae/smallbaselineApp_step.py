"""smallbaselineApp with a ``correct_dlae`` step right after ``correct_troposphere``.

MintPy has no step registry (``mintpy/smallbaselineApp.py``: ``TimeSeriesAnalysis.run`` dispatches
the fixed ``STEP_LIST`` of ``mintpy/defaults/template.py`` by name), so the plugin subclasses
``TimeSeriesAnalysis`` (``docs/design.md``):

* ``_read_template`` appends the ``mintpy.dlae.*`` section (:func:`mintpy_dlae.config.template_text`,
  or the options an older section lacks) to the work-dir smallbaselineApp.cfg, lets MintPy copy the
  user's values into it, then resolves the options into a
  :class:`~mintpy_dlae.config.DlaeConfig` (``self.dlae``);
* ``get_timeseries_filename`` continues the file chain with a ``_DLAE`` suffix, e.g.
  ``timeseries_ERA5.h5 -> timeseries_ERA5_DLAE.h5 -> ..._DLAE_ramp.h5 -> ..._DLAE_ramp_demErr.h5``,
  so ``deramp``, ``correct_topography``, ``reference_date``, ``velocity`` and ``geocode`` use the
  denoised series unchanged (the last file of the chain is still found by sorting, as '.' < '_');
* ``run`` dispatches ``correct_dlae`` and hands every other step to MintPy;
* ``run_timeseries2velocity``: on the denoised chain, when the template leaves
  ``mintpy.timeFunc.uncertaintyQuantification`` at ``auto`` and the variance file exists,
  ``velocityStd`` is propagated from the denoiser's variance (``covariance`` with
  ``timeseriesVar_*_DLAE.h5``) instead of MintPy's default fit residual, which the smooth denoised
  series makes far too small (docs/usage.md).
"""
import logging
import os

from mintpy.defaults.template import STEP_LIST
from mintpy.smallbaselineApp import TimeSeriesAnalysis
from mintpy.utils import readfile
from mintpy.utils import utils as ut

from mintpy_dlae.config import (OPTIONS, PREFIX, DlaeConfig, DlaeConfigError, is_dlae_key, resolve_template,
                                template_text)

log = logging.getLogger(__name__)

STEP = "correct_dlae"
DLAE_STEP_LIST = [s for t in STEP_LIST for s in ([t, STEP] if t == "correct_troposphere" else [t])]
CHAIN_STEPS = ["correct_LOD", "correct_SET", "correct_ionosphere", "correct_troposphere", STEP,
               "deramp", "correct_topography"]
SUFFIX = "_DLAE"
UQ_KEY = "mintpy.timeFunc.uncertaintyQuantification"
COV_KEY = "mintpy.timeFunc.timeSeriesCovFile"


def add_dlae_section(cfg_file):
    """Append the mintpy.dlae.* block to a smallbaselineApp.cfg that lacks it, or the option lines
    that a block written by an older version lacks. Returns True if the file was changed."""
    present = readfile.read_template(cfg_file) if os.path.isfile(cfg_file) else {}
    if PREFIX not in present:
        section = template_text()
    else:
        missing = [o.template_line() for o in OPTIONS if o.in_template and o.key not in present]
        if not missing:
            return False
        section = "\n".join(missing) + "\n"
    with open(cfg_file, "a") as f:
        f.write("\n\n" + section)
    return True


class DlaeTimeSeriesAnalysis(TimeSeriesAnalysis):
    """TimeSeriesAnalysis plus the correct_dlae step."""

    def _read_template(self):
        if add_dlae_section(self.templateFile):
            print(f"add the {PREFIX}.* options to {self.templateFile}")
        super()._read_template()
        raw = {k: v for k, v in readfile.read_template(self.templateFile).items() if is_dlae_key(k)}
        raw.update({k: v for k, v in (self.customTemplate or {}).items() if is_dlae_key(k)})
        resolved = resolve_template(raw)          # once: its warnings (misspelled keys) once
        try:
            self.dlae = DlaeConfig.from_resolved(resolved)
            if self.dlae.enabled:        # the files too, before hours of earlier steps
                self._check_dlae_files()
        except DlaeConfigError as err:
            custom = getattr(self, "customTemplateFile", None)
            raise DlaeConfigError(
                f"{err} (read from {custom + ' and ' if custom else ''}{self.templateFile}; smallbaselineApp "
                f"copies the options of a custom template into {os.path.basename(self.templateFile)} "
                "and keeps them there: correct the value in both)") from None
        self.template.update({k: v for k, v in resolved.items() if k.startswith(PREFIX)})

    def _check_dlae_files(self):
        """DlaeConfigError for a mintpy.dlae.model that is not a model file (a path relative to the
        work folder, where the step runs). The mask is checked when the step runs: MintPy's own
        masks (maskTempCoh.h5) are made by the steps before it."""
        from mintpy_dlae.denoise_file import model_file
        from mintpy_dlae.io import DlaeInputError
        try:
            model_file(self.dlae.model)
        except DlaeInputError as err:
            raise DlaeConfigError(f"{PREFIX}.model = {self.dlae.model!r}: {err}") from None

    @staticmethod
    def get_timeseries_filename(template, work_dir="./"):
        """MintPy's input/output file names of each step, with the ``correct_dlae`` step added.

        Returns a dict {step: {"input": ..., "output": ...}} like
        ``TimeSeriesAnalysis.get_timeseries_filename`` (absolute paths in ``work_dir``), where
        ``correct_dlae`` reads the output of ``correct_troposphere`` and, when the template has
        ``mintpy.dlae`` = True, writes it with a ``_DLAE`` suffix, and the ``deramp`` and
        ``correct_topography`` names continue that chain (else its input and output are the same
        file: the step does nothing); ``reference_date`` gets the sorted list of every file of the
        chain, ``velocity`` and ``geocode`` the last of them, ``hdfeos5`` that file or its
        ``geo/geo_*`` version for radar coordinates.  Reads the attributes of the chain's first
        file (as MintPy does), which must exist.
        """
        steps = TimeSeriesAnalysis.get_timeseries_filename(template, work_dir)
        fin = fout = steps["correct_troposphere"]["output"]
        if template.get(PREFIX) is True:
            base = os.path.splitext(fin)[0]
            new = base + SUFFIX
            fout = new + ".h5"

            def rename(fname):
                if fname == base + ".h5" or fname.startswith(base + "_"):
                    return new + fname[len(base):]
                return fname

            for sname in ("deramp", "correct_topography"):
                steps[sname] = {k: rename(v) for k, v in steps[sname].items()}
        steps[STEP] = {"input": fin, "output": fout}

        fnames = sorted({steps[s][k] for s in CHAIN_STEPS for k in ("input", "output")})
        steps["reference_date"] = {"input": fnames}
        steps["velocity"] = {"input": fnames[-1]}
        steps["geocode"] = steps["velocity"]
        if "Y_FIRST" in readfile.read_attribute(fnames[0]):
            steps["hdfeos5"] = steps["velocity"]
        else:
            folder, name = os.path.split(fnames[-1])
            steps["hdfeos5"] = {"input": os.path.join(folder, f"geo/geo_{name}")}
        return steps

    def run_dlae_correction(self, step_name):
        """Denoise the tropo-corrected time series (skip when up to date)."""
        from mintpy_dlae.config import quiet_tensorflow
        quiet_tensorflow()                 # before run_dlae imports TensorFlow
        from mintpy_dlae.denoise_file import run_dlae
        from mintpy_dlae.io import DlaeInputError
        alone = ("; to denoise a time series outside a smallbaselineApp project, run mintpy_dlae.py "
                 "on it (it needs no interferogram stack)")
        try:
            names = self.get_timeseries_filename(self.template, self.workDir)
        except FileNotFoundError as err:       # MintPy's lookup needs the inverted timeseries.h5
            raise DlaeInputError(f"correct_dlae needs the project's earlier steps (load_data ... "
                                 f"correct_troposphere): {err}{alone}") from None
        in_file, out_file = names[step_name]["input"], names[step_name]["output"]
        if in_file == out_file:
            print(f"No deep-learning denoising ({PREFIX} = no).")
            return
        if not os.path.isfile(in_file):
            chain = ["timeseries.h5"]
            for s in CHAIN_STEPS[:CHAIN_STEPS.index(STEP)]:
                name = os.path.basename(names[s]["output"])
                if name != chain[-1]:
                    chain.append(name)
            chain = " -> ".join(chain)
            raise DlaeInputError(f"{in_file}: the input of correct_dlae is not there. It is the output of "
                                 f"the steps before it with this template ({chain}, e.g. "
                                 f"timeseries_LOD_ERA5.h5 for Envisat, whose chain has correct_LOD): "
                                 f"run them first (--start invert_network --end correct_dlae){alone}")
        try:
            geom_file = ut.check_loaded_dataset(self.workDir, print_msg=False)[1]
        except (FileNotFoundError, ValueError) as err:
            raise DlaeInputError(f"correct_dlae needs a loaded project (load_data: inputs/ifgramStack.h5 "
                                 f"and the geometry): {err}{alone}") from None
        print(f"deep-learning denoising: {os.path.basename(in_file)} --> "
              f"{os.path.basename(out_file)} (model: {self.dlae.model}, geometry: "
              f"{os.path.relpath(geom_file, self.workDir)})")
        run_dlae(in_file, geom_file, self.dlae, out_file=out_file, update=True)

    def velocity_variance_file(self):
        """The variance file the velocity step should use, or None: the denoised chain is on and
        writes the variance (``mintpy.dlae.saveUncertainty``), the template leaves the velocity
        uncertainty at ``auto`` (or does not set it), and the file exists."""
        if self.template.get(PREFIX) is not True or not self.dlae.save_uncertainty:
            return None                    # (a variance file left by an earlier run may be stale)
        value = str(readfile.read_template(self.templateFile).get(UQ_KEY, "auto")).strip().lower()
        if value not in ("auto", ""):
            return None                    # the user chose a method: MintPy applies it
        var_file = self.variance_file()
        return var_file if os.path.isfile(var_file) else None

    def variance_file(self):
        """Path of the variance file that the correct_dlae step writes (it may not exist)."""
        from mintpy_dlae.denoise_file import output_files
        fnames = self.get_timeseries_filename(self.template, self.workDir)[STEP]
        return output_files(fnames["input"], fnames["output"])["variance"]

    def sync_variance_reference(self):
        """Put the denoiser's variance file on the REF_DATE of the denoised chain: MintPy's
        ``reference_date`` step re-references the series but not the variance
        (:func:`mintpy_dlae.io.rereference_variance`). Nothing happens without the variance file."""
        if self.template.get(PREFIX) is not True or not self.dlae.save_uncertainty:
            return
        from mintpy_dlae import io
        var_file = self.variance_file()
        ts_file = self.get_timeseries_filename(self.template, self.workDir)["velocity"]["input"]
        if not (os.path.isfile(var_file) and os.path.isfile(ts_file)):
            return
        ref_date = readfile.read_attribute(ts_file).get("REF_DATE")
        if ref_date and io.rereference_variance(var_file, ref_date):
            print(f"{os.path.basename(var_file)}: variance re-referenced to REF_DATE = {ref_date}, as "
                  f"{os.path.basename(ts_file)}")

    def run_reference_date(self, step_name):
        """MintPy's step, then the denoiser's variance file on the same reference date."""
        super().run_reference_date(step_name)
        self.sync_variance_reference()

    def run_timeseries2velocity(self, step_name):
        """MintPy's velocity step, with velocityStd from the denoiser's variance where
        :meth:`velocity_variance_file` gives one (the two timeFunc options set in a copy of the
        work folder's template for this call only; the estimate itself is unchanged)."""
        var_file = self.velocity_variance_file()
        if var_file is None:
            return super().run_timeseries2velocity(step_name)
        import mintpy.cli.timeseries2velocity
        self.sync_variance_reference()      # also after a reference_date.py run by hand
        print(f"velocity uncertainty: {UQ_KEY} = auto -> covariance, {COV_KEY} = "
              f"{os.path.basename(var_file)} (the denoiser's variance; the fit residual of a denoised "
              f"series is far too small)")
        tmp = os.path.join(self.workDir, f".velocity{SUFFIX}.cfg")
        print(f"{os.path.basename(tmp)}: a copy of {os.path.basename(self.templateFile)} with these two options, "
              "for this call only (removed after it)")
        with open(self.templateFile) as f:
            lines = [ln for ln in f if ln.split("=")[0].strip() not in (UQ_KEY, COV_KEY)]
        lines += [f"{UQ_KEY} = covariance\n", f"{COV_KEY} = {var_file}\n"]
        with open(tmp, "w") as f:
            f.writelines(lines)
        ts_file = self.get_timeseries_filename(self.template, self.workDir)[step_name]["input"]
        vel_file = os.path.join(self.workDir, "velocity.h5")
        try:
            mintpy.cli.timeseries2velocity.main([ts_file, "-t", tmp, "-o", vel_file, "--update"])
        finally:
            os.remove(tmp)
        # as MintPy's step: the velocity of the weather-model delay, with the template's own options
        model = str(self.template.get("mintpy.troposphericDelay.weatherModel", "")).upper()
        tropo_file = os.path.join(self.workDir, "inputs", f"{model}.h5")
        if model and os.path.isfile(tropo_file):
            atr = readfile.read_attribute(vel_file)
            mintpy.cli.timeseries2velocity.main([
                tropo_file, "-t", self.templateFile, "-o", os.path.join(self.workDir, f"velocity{model}.h5"),
                "--update", "--ref-date", atr["REF_DATE"], "--ref-yx", atr["REF_Y"], atr["REF_X"]])

    def run(self, steps):
        for sname in steps:
            if sname == STEP:
                print(f"\n\n******************** step - {sname} ********************")
                self.run_dlae_correction(sname)
            else:
                super().run([sname])

    def plot_result(self, print_aux=True):
        """MintPy's figures, plus the cumulative maps of the DLAE step (not in its file globs) and,
        when written, their significance |mean| / sigma."""
        super().plot_result(print_aux=print_aux)
        if self.template.get(PREFIX) is not True or not self.dlae.save_cumulative:
            return
        from mintpy_dlae import io
        from mintpy_dlae.denoise_file import output_files
        fnames = self.get_timeseries_filename(self.template, self.workDir)[STEP]
        cum_file = output_files(fnames["input"], fnames["output"])["cumulative"]
        if not os.path.isfile(cum_file):
            return
        import matplotlib
        matplotlib.use("Agg")
        import mintpy.cli.view
        stem = os.path.splitext(os.path.basename(cum_file))[0]
        groups = [(io.CUMULATIVE_PREFIX + "_", [], stem)]   # metres: view.py keeps -u for one family only
        if any(n.startswith(io.SIGNIFICANCE_PREFIX) for n in readfile.get_slice_list(cum_file)):
            groups.append((io.SIGNIFICANCE_PREFIX, ["--vlim", "0", "5"],
                           stem.replace(io.CUMULATIVE_PREFIX, io.SIGNIFICANCE_PREFIX, 1)))
        cwd = os.getcwd()
        os.chdir(os.path.join(self.workDir, "pic"))
        try:
            for dset, opts, name in groups:
                mintpy.cli.view.main([cum_file, dset, "--nodisplay", "--noverbose", "--update",
                                      "-o", name + ".png", "--dpi",
                                      str(self.template["mintpy.plot.dpi"])] + opts)
        finally:
            os.chdir(cwd)


def run_smallbaselineApp_dlae(inps):
    """Open, run the chosen steps, plot (as mintpy.smallbaselineApp.run_smallbaselineApp)."""
    app = DlaeTimeSeriesAnalysis(inps.customTemplateFile, inps.workDir)
    try:
        app.open()
        app.run(steps=inps.runSteps)
        if inps.plot or (app.template["mintpy.plot"] and len(inps.runSteps) > 1):
            app.plot_result()
    except BaseException:
        os.chdir(app.cwd)  # as app.close() would, without the "normal end" message
        raise
    app.close()
    return app
