package date

// LastTemplate names the template that found the date of the last Find
// ("" when it found none), as fail2ban-regex names them in its "Date
// template hits" summary.
func (d *Detector) LastTemplate() string {
	if d.last == nil {
		return ""
	}
	return d.last.name
}
