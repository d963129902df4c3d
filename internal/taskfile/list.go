package taskfile

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// List writes the tasks that have a desc (all tasks when all is true), one
// a line, as go-task's --list does.
func (f *File) List(w io.Writer, all bool) error {
	var names []string
	for _, n := range f.Names() {
		if all || f.Tasks[n].Desc != "" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		_, err := fmt.Fprintln(w, "task: No tasks with description available. Try --list-all to list all tasks")
		return err
	}
	if _, err := fmt.Fprintln(w, "task: Available tasks for this project:"); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 6, ' ', 0)
	for _, n := range names {
		fmt.Fprintf(tw, "* %s:\t%s\n", n, f.Tasks[n].Desc)
	}
	return tw.Flush()
}
