package io.nodemesh.bench.growth;

import java.util.List;

/**
 * Ordinary least-squares line {@code y = intercept + slope * x} through measured points, with the
 * coefficient of determination so a reader can tell a real trend from noise.
 *
 * @param slope change of y per unit of x
 * @param intercept y at x = 0
 * @param r2 coefficient of determination (1: the points lie on the line; NaN when y does not vary)
 * @param points how many points were fitted
 */
public record LinearFit(double slope, double intercept, double r2, int points) {

    /** Fits {@code ys} against {@code xs}; needs at least two distinct x values. */
    public static LinearFit of(List<Double> xs, List<Double> ys) {
        if (xs.size() != ys.size()) {
            throw new IllegalArgumentException("need as many x as y values, got " + xs.size() + " and " + ys.size());
        }
        int n = xs.size();
        double mx = 0;
        double my = 0;
        for (int i = 0; i < n; i++) {
            mx += xs.get(i);
            my += ys.get(i);
        }
        mx /= n;
        my /= n;
        double sxx = 0;
        double sxy = 0;
        double syy = 0;
        for (int i = 0; i < n; i++) {
            double dx = xs.get(i) - mx;
            double dy = ys.get(i) - my;
            sxx += dx * dx;
            sxy += dx * dy;
            syy += dy * dy;
        }
        if (n < 2 || sxx == 0) {
            throw new IllegalArgumentException("need at least two distinct x values to fit a line, got " + xs);
        }
        double slope = sxy / sxx;
        double r2 = syy == 0 ? Double.NaN : (sxy * sxy) / (sxx * syy);
        return new LinearFit(slope, my - slope * mx, r2, n);
    }
}
