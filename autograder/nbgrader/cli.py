"""`cnnkit nbgrader ...`: the course folder and the grading sequence (see INSTRUCTORS.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .course import DEFAULT_ASSIGNMENT, CourseError, add_assignment, check_source, create_course
from .workflow import NbgraderError, add_students, grade, release


def register(subparsers) -> None:
    """Add the `nbgrader` command group to the `cnnkit` parser's subparsers."""
    parser = subparsers.add_parser("nbgrader", help="run the course in nbgrader (JupyterHub)")
    actions = parser.add_subparsers(dest="nbgrader_action", required=True)

    init = actions.add_parser("init", help="create a course folder with the assignment's source")
    init.add_argument("course_dir", type=Path)
    init.add_argument("--course-id", help="nbgrader course id (default: the folder's name)")
    init.add_argument("--exchange", type=Path,
                      help="nbgrader exchange folder (default /srv/nbgrader/exchange)")
    init.add_argument("--release", type=Path,
                      help="student release folder to use (default: generated from the kit)")
    init.add_argument("--students", default="", help="comma-separated student ids to add")
    assignment_arg(init)
    init.set_defaults(func=run_init)

    add = actions.add_parser("add-assignment",
                             help="(re)fill source/<assignment>/ from the student release")
    add.add_argument("course_dir", type=Path)
    add.add_argument("--release", type=Path)
    add.add_argument("--force", action="store_true", help="replace an existing source folder")
    assignment_arg(add)
    add.set_defaults(func=run_add)

    rel = actions.add_parser("release", help="generate_assignment + release_assignment")
    rel.add_argument("course_dir", type=Path)
    assignment_arg(rel)
    rel.set_defaults(func=run_release)

    auto = actions.add_parser(
        "autograde", help="collect, autograde with the kit's grader, feedback, per-phase CSV")
    auto.add_argument("course_dir", type=Path)
    auto.add_argument("--csv", type=Path, help="export file (default COURSE_DIR/grades.csv)")
    auto.add_argument("--zip", action="store_true",
                      help="collect with zip_collect from downloaded/<assignment>/archive/")
    auto.add_argument("--release-feedback", action="store_true",
                      help="also release the feedback to the exchange")
    assignment_arg(auto)
    auto.set_defaults(func=run_autograde)

    check = actions.add_parser("check-source",
                               help="exit 1 if a folder holds solution code (before releasing)")
    check.add_argument("folder", type=Path)
    check.set_defaults(func=run_check_source)


def assignment_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--assignment", default=DEFAULT_ASSIGNMENT,
                        help=f"assignment name (default {DEFAULT_ASSIGNMENT})")


def reporting(action):
    """Turn the kit's expected failures into a message and exit code 1."""
    def handler(args) -> int:
        try:
            return action(args)
        except (CourseError, NbgraderError, FileNotFoundError) as err:
            print(f"error: {err}")
            return 1
    return handler


@reporting
def run_init(args) -> int:
    course = create_course(args.course_dir, args.course_id, args.exchange, args.assignment,
                           args.release)
    students = [s.strip() for s in args.students.split(",") if s.strip()]
    add_students(course, students)
    print(f"created {course} with source/{args.assignment}/"
          + (f" and {len(students)} student(s)" if students else ""))
    return 0


@reporting
def run_add(args) -> int:
    dest = add_assignment(args.course_dir.resolve(), args.assignment, args.release, args.force)
    print(f"wrote {dest}")
    return 0


@reporting
def run_release(args) -> int:
    release(args.course_dir.resolve(), args.assignment)
    print(f"released {args.assignment}")
    return 0


@reporting
def run_autograde(args) -> int:
    course = args.course_dir.resolve()
    csv = args.csv.resolve() if args.csv else course / "grades.csv"
    grade(course, args.assignment, csv, args.zip, args.release_feedback)
    print(f"graded {args.assignment}: feedback in {course / 'feedback'}, grades in {csv}")
    return 0


def run_check_source(args) -> int:
    problems = check_source(args.folder)
    for problem in problems:
        print(problem)
    print("no solution code found" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0
